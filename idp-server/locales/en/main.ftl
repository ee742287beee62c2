# The words of the hosted pages and the mails, in English (the fallback language). Every message
# here has its twin in every other locale, with the same variables; a test holds them together.
# Variables: $product is the product name, $app an application's name, $email an address.

## Sign-in

login-title = Sign in
login-continue-to = to continue to { $app }
field-email = Email
field-password = Password
login-forgot-link = Forgot?
login-submit = Login
enter-email-and-password = Enter your email and password.
invalid-credentials = The email or password is not correct.
too-many-failed-attempts = Too many failed attempts. Try again in { $minutes ->
    [one] 1 minute
   *[other] { $minutes } minutes
}.
too-many-sign-ins-title = Too many sign-ins
too-many-sign-ins = Too many sign-ins were started from your network. Try again in { $minutes ->
    [one] 1 minute
   *[other] { $minutes } minutes
}.
user-disabled-title = This user is disabled
user-disabled = This user is disabled. Contact your administrator.
sign-in-expired-title = Your sign-in has expired
sign-in-expired = For your security, sign-in pages expire after a few minutes or when a form is sent twice. Please start again.

## Authenticator app

enroll-title = Set up your authenticator app
enroll-intro = Your organisation requires a one-time code at every sign-in for { $email }.
enroll-step-open = Open an authenticator app on your phone: Google Authenticator, Microsoft Authenticator, FreeOTP, Authy, LastPass Authenticator, Duo Mobile or any other app for time-based codes.
enroll-step-scan = Scan this QR code with the app.
enroll-qr-label = QR code for your authenticator app. If you cannot scan it, type the activation code shown below it.
enroll-cannot-scan = Can't scan it? Enter this activation code in the app instead:
enroll-step-code = Enter the 6-digit code the app shows, then press Submit.
enroll-tips = Tips
enroll-tip-clock = Keep automatic date and time on your phone: codes depend on the clock.
enroll-tip-device = For better security, use a different device from the one you sign in on.
enroll-tip-lost = Once linked, you will not see this QR code again. Lost your phone? Ask your administrator to disconnect the app.
verify-title = Enter your code
verify-intro = Open your authenticator app and enter the current 6-digit code for { $email }.
verify-help = Lost your phone or removed the app? Ask your administrator to disconnect it; you can then link a new one.
field-code = 6-digit code
code-submit = Submit
code-invalid-format = Enter the 6-digit code from your authenticator app.
code-not-correct = That code is not correct. Use the newest code your app shows.
code-replayed = That code has already been used. Wait for the next code in your app.
too-many-wrong-codes = Too many wrong codes. Try again in { $minutes ->
    [one] 1 minute
   *[other] { $minutes } minutes
}.

## Signed in, signing out

signed-in-as = Signed in as { $name } ({ $email }).
change-password-link = Change password
logout-title = Log out
logout-heading = Log out?
logout-intro = You will be logged out of every app you signed in to with this account.
logout-submit = Log out
signed-out-title = You are signed out
signed-out = You have been logged out of every app you used with this sign-in. You can close this window.
sign-in-again = Sign in again

## Passwords

field-current-password = Current password
field-new-password = New password
field-confirm-password = Repeat the new password
password-rules = At least { $min } characters. A few unrelated words make a strong password. Very common passwords and your email address are not accepted.
password-submit = Save password
register-title = Complete your registration
register-intro = Confirm your authentication email by choosing your permanent password.
reset-title = Set a new password
reset-intro = Choose a new password for your account.
change-title = Change password
change-intro = Enter your current password, then choose a new one. If you use an authenticator app, it stays linked.
passwords-differ = The two passwords do not match.
new-passwords-differ = The two new passwords do not match.
wrong-current-password = The current password is not correct.
too-many-wrong-passwords = Too many wrong passwords. Try again in { $minutes ->
    [one] 1 minute
   *[other] { $minutes } minutes
}.
password-too-short = The password must be at least { $min } characters long.
password-too-long = The password must be at most { $max } characters long.
password-common = This password is among the most common passwords and easy to guess. Choose another one.
password-contains-email = The password must not contain your email address or the part before the @.
password-control-characters = The password must not contain control characters.
password-changed-title = Your password was changed
password-reset-done = You can now sign in with your new password. If your organisation requires a code from your authenticator app, you will still be asked for it.
password-changed-notice = Your password was changed. Every app and device signed in with the old one was signed out; this browser stays signed in here.
sign-in-link = Sign in

## Forgot password, links from mails

forgot-title = Forgot password
forgot-heading = Forgot your password?
forgot-intro = Enter your authentication email. If it belongs to an account, we will send you a link to set a new password.
forgot-submit = Send link
enter-email = Enter your email address.
check-your-email-title = Check your email
reset-link-sent = If that address has an account, we sent it a link to set a new password. The link is valid for { $lifetime }.
back-to-sign-in = Back to sign-in
link-invalid-title = This link cannot be used
link-invalid = The link is invalid, has expired or has already been used. Ask for a new one.
get-a-new-link = Get a new link

## Refused requests and errors

form-expired-title = This form has expired
form-stale = The form could not be verified (it may be stale or sent from another site). Please start again.
open-again = Please open the page again.
open-link-again = Open the link from your email again.
invalid-form-title = Invalid form
invalid-form-repeated = The form sent the field { $name } more than once. Please go back and try again.
invalid-form-invalid = The form's field { $name } could not be read. Please go back and try again.
form-too-large-title = Form too large
form-too-large = The form sent more than this page ever needs. Please go back and try again.
sign-in-link-invalid-title = This sign-in link is not valid
request-repeated = The request names the parameter { $name } more than once.
request-invalid = The parameter { $name } of the request is not valid.
no-client-id = The request does not name an application (client_id is missing).
unknown-client = The application is not registered with this sign-in service.
no-redirect-uri = The request has no redirect_uri.
unknown-redirect-uri = The redirect_uri is not registered for this application.
not-found-title = Page not found
not-found = There is nothing at this address.
unavailable-title = Temporarily unavailable
unavailable = The sign-in service cannot reach its database right now. Please try again in a moment.
internal-title = Something went wrong
internal = An unexpected error occurred. Please try again.

## How long a link lasts

lifetime-days = { $n ->
    [one] 1 day
   *[other] { $n } days
}
lifetime-hours = { $n ->
    [one] 1 hour
   *[other] { $n } hours
}
lifetime-minutes = { $n ->
    [one] 1 minute
   *[other] { $n } minutes
}

## Mails

mail-hello = Hello { $name },
mail-hello-unnamed = Hello,
mail-invitation-subject = Complete your { $product } registration
mail-invitation-body = An account on { $product } was created for you. To confirm this email address and set your permanent password, open this link within { $lifetime }:
mail-invitation-link = Complete registration
mail-invitation-ignore = If you did not expect this message, you can ignore it.
mail-reset-subject = Reset your { $product } password
mail-reset-body = Someone asked to reset the password of this { $product } account. To set a new password, open this link within { $lifetime }:
mail-reset-link = Set a new password
mail-reset-ignore = If it was not you, ignore this message: your password stays as it is.
mail-password-changed-subject = Your { $product } password was changed
mail-password-changed-body = The password of your { $product } account was just changed. If you did not do this, contact your administrator at once.
mail-app-linked-subject = An authenticator app was linked to your { $product } account
mail-app-linked-body = An authenticator app was linked to your { $product } account on { $at }, from the address { $ip } using { $browser }. From now on its codes are your second factor.
mail-app-linked-warning = If this was not you, someone knows your password: contact your administrator at once, so they can disconnect that app and reset your password.
mail-app-disconnected-subject = The authenticator app of your { $product } account was disconnected
mail-app-disconnected-body = Your administrator disconnected the authenticator app of your { $product } account on { $at }. At your next sign-in you will link a new app by scanning a QR code.
mail-app-disconnected-warning = If you did not ask for this, contact your administrator at once.
relink-title = Link your new authenticator app from your email
relink-intro = The authenticator app of { $email } was disconnected by your administrator. We sent a link to that address: open it in this browser, sign in again, and scan the new QR code.
relink-why = Only a sign-in opened by that link can link a new app, so someone who knows your password but cannot read your email cannot link theirs.
relink-send = Send me a new link
relink-help = The link works once, for 24 hours. Did not get it? Check your spam folder, or send a new one (the older link then stops working).
relink-sent = We sent a new link to your email. Open it in this browser.
relink-too-many = Too many links were sent. Try again in { $minutes } minutes.
relink-invalid = This link is invalid, has expired, has been used, or a newer one was sent. Sign in to be sent a new one.
mail-disconnect-notice-subject = { $product }: the authenticator app of { $user } was disconnected
mail-disconnect-notice-body = The authenticator app of { $user } on your { $product } account was disconnected on { $at }, for this reason: “{ $reason }”. Their sessions were ended; at their next sign-in they link a new app.
mail-disconnect-notice-warning = You receive this because you administer the account. If nobody asked for it, tell your { $product } support at once.
mail-relink-subject = Link a new authenticator app to your { $product } account
mail-relink-body = Your authenticator app was disconnected from your { $product } account. To link a new one, open this link, sign in with your email and password, and scan the QR code. The link works once, for { $lifetime }.
mail-relink-link = Link a new authenticator app
mail-relink-ignore = If you did not ask for this, do not open the link and contact your administrator at once.
mail-unknown-address = unknown
mail-unknown-browser = an unknown browser
browser-on-system = { $browser } on { $system }
