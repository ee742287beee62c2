# Las palabras de /account, la página propia de un usuario con sesión iniciada, en español.
# Variables: $account el nombre de la empresa, $product el del producto, $date una fecha en
# palabras; $day, $month (1-12), $year y $time (horas:minutos) las partes de una fecha.

account-title = Su cuenta
account-of = Cuenta: { $account }

## Dónde ha iniciado sesión

account-sessions-heading = Dónde ha iniciado sesión
account-sessions-intro = Cada navegador o dispositivo en el que inició sesión. Cierre la sesión de los que no reconozca: también se cerrará en todas las aplicaciones que use a través de él.
account-this-browser = Este navegador
account-unknown-browser = Navegador desconocido
account-field-address = Dirección
account-unknown-address = desconocida
account-field-started = Inicio de sesión
account-field-last-active = Última actividad
account-field-apps = Aplicaciones
account-no-apps = ninguna todavía
account-sign-out = Cerrar sesión
account-sign-out-here = Cerrar sesión aquí
account-sign-out-others = Cerrar sesión en todos los demás sitios
account-session-ended = Se cerró esa sesión y se avisó a sus aplicaciones.
account-session-gone = Esa sesión ya no estaba iniciada; no ha cambiado nada.
account-others-ended = Se cerraron todas las demás sesiones y se avisó a sus aplicaciones. Este navegador sigue con la sesión iniciada.
account-no-others = No tiene ninguna otra sesión iniciada.

## Aplicación de autenticación

account-app-heading = Aplicación de autenticación
account-app-linked = Hay una aplicación de autenticación vinculada a su cuenta.
account-app-linked-since = Vinculada desde: { $date }
account-app-linked-unknown = Vinculada desde: no consta
account-app-last-used = Último uso: { $date }
account-app-never-used = Último uso: todavía no
account-app-none = No hay ninguna aplicación de autenticación vinculada.
account-app-removal = Para quitar su aplicación de autenticación (si perdió el teléfono o cambió a otro), pídalo a su administrador o al soporte de { $product }. Ellos la desconectan y, en su próximo inicio de sesión, vinculará una nueva escaneando un código QR.

## Contraseña

account-password-heading = Contraseña

## Idioma

account-language-heading = Idioma
account-language-label = Idioma de sus páginas y correos
account-language-submit = Guardar el idioma
account-language-saved = Se guardó su idioma. Sus correos se escribirán en él.
account-language-unknown = Ese idioma no está disponible.

## Fechas (UTC)

account-date = { $day } de { $month ->
    [1] enero
    [2] febrero
    [3] marzo
    [4] abril
    [5] mayo
    [6] junio
    [7] julio
    [8] agosto
    [9] septiembre
    [10] octubre
    [11] noviembre
   *[12] diciembre
} de { $year }, { $time } UTC
