# The words of /account, a signed-in user's own page, in English. Variables: $account the
# company's name, $product the product's, $date a date in words; $day, $month (1-12), $year and
# $time (hours:minutes) a date's parts.

account-title = Your account
account-of = Account: { $account }

## Where you are signed in

account-sessions-heading = Where you are signed in
account-sessions-intro = Each browser or device where you signed in. Sign out of any you do not recognise: every app you use through it is signed out too.
account-this-browser = This browser
account-unknown-browser = Unknown browser
account-field-address = Address
account-unknown-address = unknown
account-field-started = Signed in
account-field-last-active = Last active
account-field-apps = Apps
account-no-apps = none yet
account-sign-out = Sign out
account-sign-out-here = Sign out here
account-sign-out-others = Sign out everywhere else
account-session-ended = That session was signed out, and its apps were told.
account-session-gone = That session was no longer signed in; nothing changed.
account-others-ended = Every other session was signed out, and their apps were told. This browser stays signed in.
account-no-others = You are signed in nowhere else.

## Authenticator app

account-app-heading = Authenticator app
account-app-linked = An authenticator app is linked to your account.
account-app-linked-since = Linked since: { $date }
account-app-linked-unknown = Linked since: not recorded
account-app-last-used = Last used: { $date }
account-app-never-used = Last used: not yet
account-app-none = No authenticator app is linked.
account-app-removal = To remove your authenticator app (if you lost your phone or changed to another one), ask your administrator or { $product } support. They disconnect it, and at your next sign-in you link a new one by scanning a QR code.

## Password

account-password-heading = Password

## Language

account-language-heading = Language
account-language-label = Language of your pages and mails
account-language-submit = Save language
account-language-saved = Your language was saved. Your mails will be written in it.
account-language-unknown = That language is not available.

## Dates (UTC)

account-date = { $day } { $month ->
    [1] January
    [2] February
    [3] March
    [4] April
    [5] May
    [6] June
    [7] July
    [8] August
    [9] September
    [10] October
    [11] November
   *[12] December
} { $year }, { $time } UTC
