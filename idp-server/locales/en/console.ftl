# The web console (/console), in English. $subject is a user's email or an account's name.

console-app-name = { $product } console
console-title = Console
console-nav = Console
console-nav-home = Accounts and search
console-nav-audit = Audit log
console-sign-out = Sign out

## Signing in

console-no-access-title = No access
console-no-access = You are signed in, but you hold no role that gives access to the console. Ask your administrator if you need it.
console-sign-in-failed-title = Console sign-in failed
console-sign-in-failed = The sign-in could not be completed (it may have expired or been opened in another window). Please start again from the console.
console-signed-in-title = Signed in
console-signed-in = You are signed in to the console.
console-continue = Continue to the console
console-sign-in-again = Sign in to the console again

## Pages

console-home-title = Accounts and search
console-search-label = Find a user by email or name
console-search-submit = Search
console-search-hint = The start of an email, or any part of a name (at least 2 characters).
console-search-title = Search
console-search-too-short = Type at least 2 characters to search.
console-results-heading = { $count ->
    [one] 1 user found
   *[other] { $count } users found
}
console-accounts-heading = Accounts
console-no-accounts = There are no accounts yet.
console-users-heading = Users
console-no-users = This account has no users yet.
console-user-count = Users
console-account-audit-link = Audit log of this account
console-user-audit-link = All audit events of this user
console-pages = Pages
console-first-page = First page
console-next-page = Next page
console-actions-heading = Actions
console-sessions-heading = Live sessions
console-no-sessions = No live session.
console-events-heading = Recent audit events
console-no-events = No audit event.
console-roles = Roles
console-app = Authenticator app
console-app-linked-since = App linked since
console-app-last-used = App last used
console-locked = Lockout
console-locked-yes = Locked after failed attempts
console-never = Never
console-unknown = Unknown
console-no-apps = No app (the provider's own pages)

console-col-account = Account
console-col-slug = Slug
console-col-mfa-policy = MFA policy
console-col-user = User
console-col-status = Status
console-col-mfa = MFA
console-col-last-sign-in = Last sign-in
console-col-time = Time
console-col-event = Event
console-col-actor = Actor
console-col-address = Address
console-col-reason = Reason
console-col-detail = Detail
console-col-started = Signed in
console-col-last-active = Last active
console-col-apps = Apps
console-col-browser = Browser

console-status-invited = Invited
console-status-active = Active
console-status-disabled = Disabled
console-mfa-required = Required for every user
console-mfa-off = Off
console-app-linked = Linked
console-app-not-linked = Not linked
console-role-support = Support
console-role-account-admin = Account administrator
console-roles-none = None

console-audit-title = Audit log
console-audit-of-user = Events of { $email }.
console-audit-all-users = Show every user
console-audit-any-account = Every account I may see
console-audit-from = From (UTC)
console-audit-to = To (UTC)
console-audit-filter = Show events
console-audit-csv = Download these events as CSV
console-newest-events = Newest events
console-older-events = Older events
console-audit-bad-date = Enter dates as year-month-day, for example 2026-12-31.
console-audit-bad-range = The start date must be on or before the end date.
console-audit-bad-page = This page of the audit log does not exist. Start again from the newest events.

## Actions

console-field-email = Email
console-field-name = Name
console-field-reason = Reason
console-reason-hint = Required: the ticket number, or a sentence. It is recorded in the audit log with your name and address.
console-cancel = Cancel

console-act-invite = Invite a user
console-act-resend-invitation = Send the invitation again
console-act-disable = Disable
console-act-enable = Enable
console-act-unlock = Unlock
console-act-send-reset = Send a password-reset link
console-act-disconnect-app = Disconnect the authenticator app
console-act-end-sessions = End all sessions
console-act-mfa-on = Turn MFA on
console-act-mfa-off = Turn MFA off

console-confirm-invite = Invite a new user to { $subject }: they get an email with a link to set their password.
console-confirm-resend-invitation = Mail { $subject } a new invitation link.
console-confirm-disable = Disable { $subject }: all their sessions end at once and they cannot sign in until someone enables them again.
console-confirm-enable = Enable { $subject }: they can sign in again.
console-confirm-unlock = Unlock { $subject }: their failed password and code attempts are cleared and they can try again at once.
console-confirm-send-reset = Mail { $subject } a link to set a new password.
console-confirm-disconnect-app = Disconnect the authenticator app of { $subject }: all their sessions end and they link a new app at their next sign-in. They and their company's administrators are told by email.
console-confirm-end-sessions = End every session of { $subject }: they are signed out of every app and must sign in again.
console-confirm-mfa-on = Require MFA for every user of { $subject }: sessions without a second factor end, and each user links an authenticator app at their next sign-in.
console-confirm-mfa-off = Turn MFA off for every user of { $subject }: nobody there is asked for a code any more. Linked apps stay linked for when MFA is turned on again.

console-done-invite = The new user of { $subject } is invited: the invitation is on its way.
console-done-resend-invitation = A new invitation link was mailed to { $subject }.
console-done-disable = { $subject } is disabled and signed out everywhere.
console-done-enable = { $subject } is enabled.
console-done-unlock = { $subject } is unlocked.
console-done-send-reset = A password-reset link was mailed to { $subject }.
console-done-disconnect-app = The authenticator app of { $subject } is disconnected: they link a new one at their next sign-in.
console-done-end-sessions = Every session of { $subject } has ended.
console-done-mfa-on = MFA is now required for every user of { $subject }.
console-done-mfa-off = MFA is now off for { $subject }.
console-already-disable = { $subject } was already disabled; nothing changed.
console-already-enable = { $subject } was already enabled; nothing changed.
console-already-disconnect-app = { $subject } had no authenticator app linked; nothing changed.
console-already-end-sessions = { $subject } had no live session; nothing changed.
console-already-mfa-on = MFA was already required for { $subject }; nothing changed.
console-already-mfa-off = MFA was already off for { $subject }; nothing changed.
console-mail-not-sent = Done, but the mail for { $subject } could not be sent. Try again later.

## Refusals

console-refused-title = Not allowed
console-refused-other-account = This account is not yours to manage.
console-refused-own-user = Nobody can change their own authenticator, roles or status in the console. Use your account page, or ask a colleague.
console-refused-holds-role = This user holds a role: changes to them go to support.
console-refused-support-only = Only support can turn MFA off for an account.
console-reason-missing = Enter a reason: the ticket number, or a sentence.
console-reason-too-long = The reason is longer than 500 characters.
console-reason-bad-character = The reason contains a control or formatting character. Type it again as plain text.
console-not-found-title = Not found
console-not-found = There is no such user or account among those you may see.
console-invalid-email = Enter a valid email address, such as name@example.com.
console-invalid-name = The name is too long or contains characters that are not allowed.
console-email-taken = A user with this email already exists.
console-link-user-disabled = This user is disabled: enable them first, then send the link.
console-too-many-disconnects = You have disconnected as many authenticator apps as one person may in an hour. Try again in { $minutes ->
    [one] 1 minute
   *[other] { $minutes } minutes
}, or ask a colleague.
