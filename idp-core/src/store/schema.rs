//! Table definitions shared by both backends (see `migrations/sqlite` and `migrations/postgres`).

diesel::table! {
    accounts (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        mfa_policy -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        account_id -> Text,
        email -> Text,
        work_email -> Nullable<Text>,
        display_name -> Text,
        status -> Text,
        email_verified -> Bool,
        password_hash -> Nullable<Text>,
        password_changed_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        roles -> Text,
        locale -> Nullable<Text>,
        last_sign_in_at -> Nullable<BigInt>,
        relink_by_email -> Bool,
    }
}

diesel::table! {
    totp_credentials (user_id) {
        user_id -> Text,
        secret_sealed -> Text,
        linked -> Bool,
        last_used_step -> Nullable<BigInt>,
        created_at -> BigInt,
        linked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    sso_sessions (id) {
        id -> Text,
        secret_hash -> Text,
        user_id -> Text,
        auth_time -> BigInt,
        amr -> Text,
        created_at -> BigInt,
        last_active_at -> BigInt,
        idle_timeout_secs -> BigInt,
        expires_at -> BigInt,
        ended_at -> Nullable<BigInt>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        idle_expires_at -> BigInt,
        end_reason -> Nullable<Text>,
    }
}

diesel::table! {
    grants (id) {
        id -> Text,
        session_id -> Text,
        user_id -> Text,
        client_id -> Text,
        scope -> Text,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    authorization_codes (code_hash) {
        code_hash -> Text,
        client_id -> Text,
        redirect_uri -> Text,
        session_id -> Text,
        user_id -> Text,
        scope -> Text,
        nonce -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        redeemed_at -> Nullable<BigInt>,
        grant_id -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        grant_id -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    email_tokens (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        purpose -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    login_flows (id_hash) {
        id_hash -> Text,
        request -> Nullable<Text>,
        user_id -> Nullable<Text>,
        stage -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        pending_totp_sealed -> Nullable<Text>,
        relink_token_hash -> Nullable<Text>,
    }
}

diesel::table! {
    attempt_counters (key) {
        key -> Text,
        failures -> Integer,
        window_started_at -> BigInt,
        last_failure_at -> BigInt,
        locked_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        private_sealed -> Text,
        public_jwk -> Text,
        created_at -> BigInt,
        retired_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        at -> BigInt,
        action -> Text,
        actor -> Text,
        account_id -> Nullable<Text>,
        user_id -> Nullable<Text>,
        ip -> Nullable<Text>,
        detail -> Nullable<Text>,
        actor_note -> Nullable<Text>,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    logout_outbox (id) {
        id -> Text,
        session_id -> Text,
        user_id -> Text,
        account_id -> Nullable<Text>,
        client_id -> Text,
        reason -> Text,
        created_at -> BigInt,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        claimed_until -> Nullable<BigInt>,
        delivered_at -> Nullable<BigInt>,
        failed_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
    }
}

diesel::joinable!(users -> accounts (account_id));
diesel::joinable!(totp_credentials -> users (user_id));
diesel::joinable!(sso_sessions -> users (user_id));
diesel::joinable!(grants -> sso_sessions (session_id));
diesel::joinable!(refresh_tokens -> grants (grant_id));

diesel::table! {
    import_marks (user_id) {
        user_id -> Text,
        password_hash_mark -> Nullable<Text>,
        totp_secret_mark -> Nullable<Text>,
    }
}

diesel::table! {
    sealed_secrets (name) {
        name -> Text,
        secret_sealed -> Text,
        created_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    users,
    totp_credentials,
    sso_sessions,
    grants,
    authorization_codes,
    refresh_tokens,
    email_tokens,
    login_flows,
    attempt_counters,
    signing_keys,
    audit_events,
    logout_outbox,
    import_marks,
    sealed_secrets,
);
