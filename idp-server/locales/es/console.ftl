# La consola web (/console), en español. $subject es el correo de un usuario o el nombre de una cuenta.

console-app-name = Consola de { $product }
console-title = Consola
console-nav = Consola
console-nav-home = Cuentas y búsqueda
console-nav-audit = Registro de auditoría
console-sign-out = Cerrar sesión

## Inicio de sesión

console-no-access-title = Sin acceso
console-no-access = Ha iniciado sesión, pero no tiene ningún rol que dé acceso a la consola. Pídaselo a su administrador si lo necesita.
console-sign-in-failed-title = No se pudo iniciar sesión en la consola
console-sign-in-failed = No se pudo completar el inicio de sesión (puede haber caducado o haberse abierto en otra ventana). Vuelva a empezar desde la consola.
console-signed-in-title = Sesión iniciada
console-signed-in = Ha iniciado sesión en la consola.
console-continue = Continuar a la consola
console-sign-in-again = Volver a iniciar sesión en la consola

## Páginas

console-home-title = Cuentas y búsqueda
console-search-label = Buscar un usuario por correo o nombre
console-search-submit = Buscar
console-search-hint = El principio de un correo o cualquier parte de un nombre (al menos 2 caracteres).
console-search-title = Búsqueda
console-search-too-short = Escriba al menos 2 caracteres para buscar.
console-results-heading = { $count ->
    [one] 1 usuario encontrado
   *[other] { $count } usuarios encontrados
}
console-accounts-heading = Cuentas
console-no-accounts = Todavía no hay cuentas.
console-users-heading = Usuarios
console-no-users = Esta cuenta todavía no tiene usuarios.
console-user-count = Usuarios
console-account-audit-link = Registro de auditoría de esta cuenta
console-user-audit-link = Todos los eventos de auditoría de este usuario
console-pages = Páginas
console-first-page = Primera página
console-next-page = Página siguiente
console-actions-heading = Acciones
console-sessions-heading = Sesiones activas
console-no-sessions = Ninguna sesión activa.
console-events-heading = Eventos de auditoría recientes
console-no-events = Ningún evento de auditoría.
console-roles = Roles
console-app = Aplicación de autenticación
console-app-linked-since = Aplicación vinculada desde
console-app-last-used = Último uso de la aplicación
console-locked = Bloqueo
console-locked-yes = Bloqueado tras intentos fallidos
console-never = Nunca
console-unknown = Desconocido
console-no-apps = Ninguna aplicación (las páginas del propio proveedor)

console-col-account = Cuenta
console-col-slug = Identificador
console-col-mfa-policy = Política de MFA
console-col-user = Usuario
console-col-status = Estado
console-col-mfa = MFA
console-col-last-sign-in = Último inicio de sesión
console-col-time = Hora
console-col-event = Evento
console-col-actor = Autor
console-col-address = Dirección
console-col-reason = Motivo
console-col-detail = Detalle
console-col-started = Inicio de sesión
console-col-last-active = Última actividad
console-col-apps = Aplicaciones
console-col-browser = Navegador

console-status-invited = Invitado
console-status-active = Activo
console-status-disabled = Desactivado
console-mfa-required = Obligatoria para todos los usuarios
console-mfa-off = Desactivada
console-app-linked = Vinculada
console-app-not-linked = No vinculada
console-role-support = Soporte
console-role-account-admin = Administrador de la cuenta
console-roles-none = Ninguno

console-audit-title = Registro de auditoría
console-audit-of-user = Eventos de { $email }.
console-audit-all-users = Mostrar todos los usuarios
console-audit-any-account = Todas las cuentas que puedo ver
console-audit-from = Desde (UTC)
console-audit-to = Hasta (UTC)
console-audit-filter = Mostrar eventos
console-audit-csv = Descargar estos eventos en CSV
console-newest-events = Eventos más recientes
console-older-events = Eventos anteriores
console-audit-bad-date = Escriba las fechas como año-mes-día, por ejemplo 2026-12-31.
console-audit-bad-range = La fecha de inicio debe ser igual o anterior a la fecha de fin.
console-audit-bad-page = Esta página del registro de auditoría no existe. Vuelva a empezar desde los eventos más recientes.

## Acciones

console-field-email = Correo electrónico
console-field-name = Nombre
console-field-reason = Motivo
console-reason-hint = Obligatorio: el número de incidencia o una frase. Se guarda en el registro de auditoría con su nombre y su dirección.
console-cancel = Cancelar

console-act-invite = Invitar a un usuario
console-act-resend-invitation = Enviar de nuevo la invitación
console-act-disable = Desactivar
console-act-enable = Activar
console-act-unlock = Desbloquear
console-act-send-reset = Enviar un enlace para restablecer la contraseña
console-act-disconnect-app = Desconectar la aplicación de autenticación
console-act-end-sessions = Cerrar todas las sesiones
console-act-mfa-on = Activar la MFA
console-act-mfa-off = Desactivar la MFA

console-confirm-invite = Invitar a un nuevo usuario a { $subject }: recibirá un correo con un enlace para elegir su contraseña.
console-confirm-resend-invitation = Enviar a { $subject } un nuevo enlace de invitación.
console-confirm-disable = Desactivar a { $subject }: todas sus sesiones se cierran de inmediato y no podrá iniciar sesión hasta que alguien lo vuelva a activar.
console-confirm-enable = Activar a { $subject }: podrá volver a iniciar sesión.
console-confirm-unlock = Desbloquear a { $subject }: se borran sus intentos fallidos de contraseña y de código y puede volver a intentarlo enseguida.
console-confirm-send-reset = Enviar a { $subject } un enlace para elegir una nueva contraseña.
console-confirm-disconnect-app = Desconectar la aplicación de autenticación de { $subject }: todas sus sesiones se cierran y vinculará una nueva aplicación en su próximo inicio de sesión. Se le avisa por correo, y también a los administradores de su empresa.
console-confirm-end-sessions = Cerrar todas las sesiones de { $subject }: sale de todas las aplicaciones y debe volver a iniciar sesión.
console-confirm-mfa-on = Exigir la MFA a todos los usuarios de { $subject }: las sesiones sin segundo factor se cierran y cada usuario vincula una aplicación de autenticación en su próximo inicio de sesión.
console-confirm-mfa-off = Desactivar la MFA para todos los usuarios de { $subject }: a nadie se le pedirá un código. Las aplicaciones vinculadas siguen vinculadas para cuando se vuelva a activar la MFA.

console-done-invite = El nuevo usuario de { $subject } está invitado: la invitación va de camino.
console-done-resend-invitation = Se ha enviado a { $subject } un nuevo enlace de invitación.
console-done-disable = { $subject } está desactivado y se han cerrado todas sus sesiones.
console-done-enable = { $subject } está activado.
console-done-unlock = { $subject } está desbloqueado.
console-done-send-reset = Se ha enviado a { $subject } un enlace para restablecer la contraseña.
console-done-disconnect-app = La aplicación de autenticación de { $subject } está desconectada: vinculará una nueva en su próximo inicio de sesión.
console-done-end-sessions = Se han cerrado todas las sesiones de { $subject }.
console-done-mfa-on = La MFA es ahora obligatoria para todos los usuarios de { $subject }.
console-done-mfa-off = La MFA está ahora desactivada para { $subject }.
console-already-disable = { $subject } ya estaba desactivado; no ha cambiado nada.
console-already-enable = { $subject } ya estaba activado; no ha cambiado nada.
console-already-disconnect-app = { $subject } no tenía ninguna aplicación de autenticación vinculada; no ha cambiado nada.
console-already-end-sessions = { $subject } no tenía ninguna sesión activa; no ha cambiado nada.
console-already-mfa-on = La MFA ya era obligatoria para { $subject }; no ha cambiado nada.
console-already-mfa-off = La MFA ya estaba desactivada para { $subject }; no ha cambiado nada.
console-mail-not-sent = Hecho, pero no se ha podido enviar el correo para { $subject }. Vuelva a intentarlo más tarde.

## Rechazos

console-refused-title = No permitido
console-refused-other-account = Esta cuenta no la gestiona usted.
console-refused-own-user = Nadie puede cambiar en la consola su propia aplicación de autenticación, sus roles ni su estado. Use la página de su cuenta o pídaselo a un compañero.
console-refused-holds-role = Este usuario tiene un rol: los cambios en él corresponden a soporte.
console-refused-support-only = Solo soporte puede desactivar la MFA de una cuenta.
console-reason-missing = Escriba un motivo: el número de incidencia o una frase.
console-reason-too-long = El motivo tiene más de 500 caracteres.
console-reason-bad-character = El motivo contiene un carácter de control o de formato. Escríbalo de nuevo como texto normal.
console-not-found-title = No encontrado
console-not-found = No existe ese usuario o esa cuenta entre los que puede ver.
console-invalid-email = Escriba una dirección de correo válida, como nombre@example.com.
console-invalid-name = El nombre es demasiado largo o contiene caracteres no permitidos.
console-email-taken = Ya existe un usuario con este correo.
console-link-user-disabled = Este usuario está desactivado: actívelo primero y después envíe el enlace.
console-too-many-disconnects = Ha desconectado tantas aplicaciones de autenticación como una persona puede en una hora. Vuelva a intentarlo dentro de { $minutes ->
    [one] 1 minuto
   *[other] { $minutes } minutos
} o pídaselo a un compañero.
