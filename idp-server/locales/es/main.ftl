# Las palabras de las páginas y de los correos, en español. Cada mensaje tiene su gemelo en
# inglés (en/main.ftl) con las mismas variables; una prueba los mantiene juntos.

## Inicio de sesión

login-title = Iniciar sesión
login-continue-to = para continuar en { $app }
field-email = Correo electrónico
field-password = Contraseña
login-forgot-link = ¿La olvidó?
login-submit = Entrar
enter-email-and-password = Introduzca su correo electrónico y su contraseña.
invalid-credentials = El correo electrónico o la contraseña no son correctos.
too-many-failed-attempts = Demasiados intentos fallidos. Vuelva a intentarlo dentro de { $minutes ->
    [one] 1 minuto
   *[other] { $minutes } minutos
}.
too-many-sign-ins-title = Demasiados inicios de sesión
too-many-sign-ins = Se han iniciado demasiadas sesiones desde su red. Vuelva a intentarlo dentro de { $minutes ->
    [one] 1 minuto
   *[other] { $minutes } minutos
}.
user-disabled-title = Este usuario está desactivado
user-disabled = Este usuario está desactivado. Póngase en contacto con su administrador.
sign-in-expired-title = Su inicio de sesión ha caducado
sign-in-expired = Por su seguridad, las páginas de inicio de sesión caducan al cabo de unos minutos o cuando un formulario se envía dos veces. Vuelva a empezar.

## Aplicación de autenticación

enroll-title = Configure su aplicación de autenticación
enroll-intro = Su organización exige un código de un solo uso en cada inicio de sesión con { $email }.
enroll-step-open = Abra una aplicación de autenticación en su teléfono: Google Authenticator, Microsoft Authenticator, FreeOTP, Authy, LastPass Authenticator, Duo Mobile o cualquier otra aplicación de códigos temporales.
enroll-step-scan = Escanee este código QR con la aplicación.
enroll-qr-label = Código QR para su aplicación de autenticación. Si no puede escanearlo, escriba el código de activación que aparece debajo.
enroll-cannot-scan = ¿No puede escanearlo? Introduzca en la aplicación este código de activación:
enroll-step-code = Introduzca el código de 6 dígitos que muestra la aplicación y pulse Enviar.
enroll-tips = Consejos
enroll-tip-clock = Mantenga la fecha y la hora automáticas en su teléfono: los códigos dependen del reloj.
enroll-tip-device = Para mayor seguridad, use un dispositivo distinto del que usa para iniciar sesión.
enroll-tip-lost = Una vez vinculada la aplicación, no volverá a ver este código QR. ¿Ha perdido el teléfono? Pida a su administrador que desconecte la aplicación.
verify-title = Introduzca su código
verify-intro = Abra su aplicación de autenticación e introduzca el código actual de 6 dígitos para { $email }.
verify-help = ¿Ha perdido el teléfono o ha eliminado la aplicación? Pida a su administrador que la desconecte; después podrá vincular una nueva.
field-code = Código de 6 dígitos
code-submit = Enviar
code-invalid-format = Introduzca el código de 6 dígitos de su aplicación de autenticación.
code-not-correct = Ese código no es correcto. Use el código más reciente que muestra su aplicación.
code-replayed = Ese código ya se ha usado. Espere al siguiente código de su aplicación.
too-many-wrong-codes = Demasiados códigos incorrectos. Vuelva a intentarlo dentro de { $minutes ->
    [one] 1 minuto
   *[other] { $minutes } minutos
}.

## Sesión iniciada, cierre de sesión

signed-in-as = Ha iniciado sesión como { $name } ({ $email }).
change-password-link = Cambiar la contraseña
logout-title = Cerrar sesión
logout-heading = ¿Cerrar sesión?
logout-intro = Se cerrará la sesión en todas las aplicaciones en las que inició sesión con esta cuenta.
logout-submit = Cerrar sesión
signed-out-title = Ha cerrado la sesión
signed-out = Se ha cerrado la sesión en todas las aplicaciones que usó con este inicio de sesión. Puede cerrar esta ventana.
sign-in-again = Volver a iniciar sesión

## Contraseñas

field-current-password = Contraseña actual
field-new-password = Nueva contraseña
field-confirm-password = Repita la nueva contraseña
password-rules = Al menos { $min } caracteres. Unas cuantas palabras sin relación entre sí forman una contraseña segura. No se aceptan las contraseñas muy comunes ni su dirección de correo electrónico.
password-submit = Guardar la contraseña
register-title = Complete su registro
register-intro = Confirme su correo electrónico de autenticación eligiendo su contraseña definitiva.
reset-title = Establezca una nueva contraseña
reset-intro = Elija una nueva contraseña para su cuenta.
change-title = Cambiar la contraseña
change-intro = Introduzca su contraseña actual y elija una nueva. Si usa una aplicación de autenticación, seguirá vinculada.
passwords-differ = Las dos contraseñas no coinciden.
new-passwords-differ = Las dos contraseñas nuevas no coinciden.
wrong-current-password = La contraseña actual no es correcta.
too-many-wrong-passwords = Demasiadas contraseñas incorrectas. Vuelva a intentarlo dentro de { $minutes ->
    [one] 1 minuto
   *[other] { $minutes } minutos
}.
password-too-short = La contraseña debe tener al menos { $min } caracteres.
password-too-long = La contraseña debe tener como máximo { $max } caracteres.
password-common = Esta contraseña está entre las más comunes y es fácil de adivinar. Elija otra.
password-contains-email = La contraseña no debe contener su dirección de correo electrónico ni la parte anterior a la @.
password-control-characters = La contraseña no debe contener caracteres de control.
password-changed-title = Su contraseña se ha cambiado
password-reset-done = Ya puede iniciar sesión con su nueva contraseña. Si su organización exige un código de su aplicación de autenticación, se le seguirá pidiendo.
password-changed-notice = Su contraseña se ha cambiado. Se han cerrado las sesiones de todas las aplicaciones y dispositivos abiertas con la anterior; este navegador sigue con la sesión iniciada aquí.
sign-in-link = Iniciar sesión

## Contraseña olvidada, enlaces de los correos

forgot-title = Contraseña olvidada
forgot-heading = ¿Ha olvidado su contraseña?
forgot-intro = Introduzca su correo electrónico de autenticación. Si pertenece a una cuenta, le enviaremos un enlace para establecer una nueva contraseña.
forgot-submit = Enviar el enlace
enter-email = Introduzca su dirección de correo electrónico.
check-your-email-title = Revise su correo
reset-link-sent = Si esa dirección tiene una cuenta, le hemos enviado un enlace para establecer una nueva contraseña. El enlace es válido durante { $lifetime }.
back-to-sign-in = Volver al inicio de sesión
link-invalid-title = Este enlace no se puede usar
link-invalid = El enlace no es válido, ha caducado o ya se ha usado. Pida uno nuevo.
get-a-new-link = Obtener un nuevo enlace

## Solicitudes rechazadas y errores

form-expired-title = Este formulario ha caducado
form-stale = No se ha podido verificar el formulario (puede estar obsoleto o haberse enviado desde otro sitio). Vuelva a empezar.
open-again = Vuelva a abrir la página.
open-link-again = Vuelva a abrir el enlace de su correo.
invalid-form-title = Formulario no válido
invalid-form-repeated = El formulario envió el campo { $name } más de una vez. Vuelva atrás e inténtelo de nuevo.
invalid-form-invalid = No se ha podido leer el campo { $name } del formulario. Vuelva atrás e inténtelo de nuevo.
form-too-large-title = Formulario demasiado grande
form-too-large = El formulario envió más de lo que esta página necesita. Vuelva atrás e inténtelo de nuevo.
sign-in-link-invalid-title = Este enlace de inicio de sesión no es válido
request-repeated = La solicitud indica el parámetro { $name } más de una vez.
request-invalid = El parámetro { $name } de la solicitud no es válido.
no-client-id = La solicitud no indica ninguna aplicación (falta client_id).
unknown-client = La aplicación no está registrada en este servicio de inicio de sesión.
no-redirect-uri = La solicitud no tiene el parámetro redirect_uri.
unknown-redirect-uri = El parámetro redirect_uri no está registrado para esta aplicación.
not-found-title = Página no encontrada
not-found = No hay nada en esta dirección.
unavailable-title = No disponible temporalmente
unavailable = El servicio de inicio de sesión no puede acceder a su base de datos en este momento. Vuelva a intentarlo en unos instantes.
internal-title = Algo ha salido mal
internal = Se ha producido un error inesperado. Vuelva a intentarlo.

## Cuánto dura un enlace

lifetime-days = { $n ->
    [one] 1 día
   *[other] { $n } días
}
lifetime-hours = { $n ->
    [one] 1 hora
   *[other] { $n } horas
}
lifetime-minutes = { $n ->
    [one] 1 minuto
   *[other] { $n } minutos
}

## Correos

mail-hello = Hola, { $name }:
mail-hello-unnamed = Hola:
mail-invitation-subject = Complete su registro en { $product }
mail-invitation-body = Se ha creado una cuenta en { $product } para usted. Para confirmar esta dirección de correo electrónico y establecer su contraseña definitiva, abra este enlace en un plazo de { $lifetime }:
mail-invitation-link = Completar el registro
mail-invitation-ignore = Si no esperaba este mensaje, puede ignorarlo.
mail-reset-subject = Restablezca su contraseña de { $product }
mail-reset-body = Alguien ha pedido restablecer la contraseña de esta cuenta de { $product }. Para establecer una nueva contraseña, abra este enlace en un plazo de { $lifetime }:
mail-reset-link = Establecer una nueva contraseña
mail-reset-ignore = Si no ha sido usted, ignore este mensaje: su contraseña no cambia.
mail-password-changed-subject = Su contraseña de { $product } se ha cambiado
mail-password-changed-body = La contraseña de su cuenta de { $product } se acaba de cambiar. Si no lo ha hecho usted, póngase en contacto con su administrador de inmediato.
mail-app-linked-subject = Se ha vinculado una aplicación de autenticación a su cuenta de { $product }
mail-app-linked-body = Se vinculó una aplicación de autenticación a su cuenta de { $product } el { $at }, desde la dirección { $ip } con { $browser }. A partir de ahora, los códigos de esa aplicación son su segundo factor.
mail-app-linked-warning = Si no ha sido usted, alguien conoce su contraseña: póngase en contacto con su administrador de inmediato para que desconecte esa aplicación y restablezca su contraseña.
mail-app-disconnected-subject = Se ha desconectado la aplicación de autenticación de su cuenta de { $product }
mail-app-disconnected-body = Su administrador desconectó la aplicación de autenticación de su cuenta de { $product } el { $at }. En su próximo inicio de sesión vinculará una nueva aplicación escaneando un código QR.
mail-app-disconnected-warning = Si no lo ha pedido, póngase en contacto con su administrador de inmediato.
relink-title = Vincule su nueva aplicación de autenticación desde su correo
relink-intro = Su administrador desconectó la aplicación de autenticación de { $email }. Le enviamos un enlace a esa dirección: ábralo en este navegador, inicie sesión de nuevo y escanee el nuevo código QR.
relink-why = Solo un inicio de sesión abierto con ese enlace puede vincular una nueva aplicación; así, quien conozca su contraseña pero no pueda leer su correo no podrá vincular la suya.
relink-send = Enviarme un enlace nuevo
relink-help = El enlace sirve una sola vez, durante 24 horas. ¿No le llegó? Revise la carpeta de correo no deseado o pida uno nuevo (el anterior dejará de funcionar).
relink-sent = Le enviamos un enlace nuevo a su correo. Ábralo en este navegador.
relink-too-many = Se enviaron demasiados enlaces. Inténtelo de nuevo en { $minutes } minutos.
relink-invalid = Este enlace no es válido, ha caducado, ya se usó o se envió uno más reciente. Inicie sesión para que le enviemos uno nuevo.
mail-disconnect-notice-subject = { $product }: se desconectó la aplicación de autenticación de { $user }
mail-disconnect-notice-body = La aplicación de autenticación de { $user } en su cuenta de { $product } se desconectó el { $at }, por este motivo: «{ $reason }». Sus sesiones se cerraron; en su próximo inicio de sesión vinculará una nueva aplicación.
mail-disconnect-notice-warning = Recibe este correo porque administra la cuenta. Si nadie lo pidió, avise de inmediato al soporte de { $product }.
mail-relink-subject = Vincule una nueva aplicación de autenticación a su cuenta de { $product }
mail-relink-body = Se desconectó la aplicación de autenticación de su cuenta de { $product }. Para vincular una nueva, abra este enlace, inicie sesión con su correo y su contraseña, y escanee el código QR. El enlace sirve una sola vez, durante { $lifetime }.
mail-relink-link = Vincular una nueva aplicación de autenticación
mail-relink-ignore = Si no lo ha pedido, no abra el enlace y póngase en contacto con su administrador de inmediato.
mail-unknown-address = desconocida
mail-unknown-browser = un navegador desconocido
browser-on-system = { $browser } en { $system }
