//! Prometheus metrics (`GET /metrics`, OpenMetrics text): requests by route and status, latency
//! histograms, sign-in and MFA outcomes, lockouts, back-channel logouts, expired sessions and the sweeper's passes. Routes are the matched patterns, never raw
//! paths, so the label set stays small.

use prometheus_client::encoding::{text::encode, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    signins: Family<OutcomeLabels, Counter>,
    mfa: Family<OutcomeLabels, Counter>,
    lockouts: Family<OutcomeLabels, Counter>,
    backchannel: Family<OutcomeLabels, Counter>,
    sessions_swept: Counter,
    sweeps: Histogram,
    reloads: Family<ReloadLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    result: &'static str,
}

/// Every label value each outcome family takes: their series exist (at 0) from the start, so a
/// dashboard or an alert on a rate finds them before the first event.
const SIGNIN_OUTCOMES: [&str; 4] = ["password_ok", "invalid_credentials", "locked", "disabled"];
const MFA_OUTCOMES: [&str; 7] = [
    "enrolled",
    "verified",
    "invalid",
    "invalid_format",
    "replayed",
    "locked",
    "disabled",
];
const LOCKED: [&str; 2] = ["password", "totp"];
const BACKCHANNEL_OUTCOMES: [&str; 3] = ["sent", "retried", "failed"];
const RELOAD_RESULTS: [&str; 2] = ["ok", "error"];

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("idp");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let signins = Family::<OutcomeLabels, Counter>::default();
        let mfa = Family::<OutcomeLabels, Counter>::default();
        let lockouts = Family::<OutcomeLabels, Counter>::default();
        let backchannel = Family::<OutcomeLabels, Counter>::default();
        let sessions_swept = Counter::default();
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "config_reloads",
            "Configuration reloads (SIGHUP): ok, or error (the running configuration stayed)",
            reloads.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register("signins", "Password sign-in outcomes", signins.clone());
        registry.register(
            "mfa_codes",
            "TOTP code outcomes (enrollment and sign-in)",
            mfa.clone(),
        );
        registry.register(
            "lockouts",
            "Sign-in steps refused while a lockout was in force, by what was locked",
            lockouts.clone(),
        );
        registry.register(
            "backchannel_logouts",
            "Back-channel logout deliveries: sent, retried (failed, tried again later), failed (given up)",
            backchannel.clone(),
        );
        registry.register(
            "sessions_expired",
            "Sessions the sweeper ended at idle or absolute expiry",
            sessions_swept.clone(),
        );
        let sweeps = Histogram::new(exponential_buckets(0.001, 2.0, 14));
        registry.register(
            "sweep_duration_seconds",
            "How long each pass of the session sweeper took",
            sweeps.clone(),
        );
        for (family, outcomes) in [
            (&signins, &SIGNIN_OUTCOMES[..]),
            (&mfa, &MFA_OUTCOMES[..]),
            (&lockouts, &LOCKED[..]),
            (&backchannel, &BACKCHANNEL_OUTCOMES[..]),
        ] {
            for &outcome in outcomes {
                drop(family.get_or_create(&OutcomeLabels { outcome }));
            }
        }
        for result in RELOAD_RESULTS {
            drop(reloads.get_or_create(&ReloadLabels { result }));
        }
        Metrics {
            registry,
            sweeps,
            reloads,
            backchannel,
            sessions_swept,
            requests,
            latency,
            signins,
            mfa,
            lockouts,
        }
    }

    /// Counts a request. The method label is one of HTTP's own (RFC 9110 9.3, and PATCH) or
    /// `other`: a caller inventing methods must not add a series per method, since each series
    /// lives as long as the process.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        const KNOWN: [&str; 8] = [
            "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
        ];
        let method = KNOWN.iter().find(|m| **m == method).unwrap_or(&"other");
        self.requests
            .get_or_create(&RequestLabels {
                method: (*method).to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .observe(seconds);
    }

    pub fn signin(&self, outcome: &'static str) {
        debug_assert!(SIGNIN_OUTCOMES.contains(&outcome), "{outcome}");
        self.signins.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    pub fn mfa(&self, outcome: &'static str) {
        debug_assert!(MFA_OUTCOMES.contains(&outcome), "{outcome}");
        self.mfa.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    pub fn lockout(&self, what: &'static str) {
        debug_assert!(LOCKED.contains(&what), "{what}");
        self.lockouts
            .get_or_create(&OutcomeLabels { outcome: what })
            .inc();
    }

    /// A back-channel logout attempt: `sent`, `retried` or `failed`.
    pub fn backchannel(&self, outcome: &'static str) {
        debug_assert!(BACKCHANNEL_OUTCOMES.contains(&outcome), "{outcome}");
        self.backchannel
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// A configuration reload: `ok` or `error`.
    pub fn config_reload(&self, result: &'static str) {
        debug_assert!(RELOAD_RESULTS.contains(&result), "{result}");
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
    }

    pub fn sessions_expired(&self, n: u64) {
        self.sessions_swept.inc_by(n);
    }

    /// One pass of the sweeper, whatever it found.
    pub fn sweep_pass(&self, seconds: f64) {
        self.sweeps.observe(seconds);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh process shows every outcome series at 0 (an alert on a rate needs the series
    /// before its first event).
    #[test]
    fn every_outcome_series_exists_from_the_start() {
        let text = Metrics::new().render();
        for series in [
            "idp_config_reloads_total{result=\"ok\"} 0",
            "idp_config_reloads_total{result=\"error\"} 0",
            "idp_backchannel_logouts_total{outcome=\"sent\"} 0",
            "idp_backchannel_logouts_total{outcome=\"failed\"} 0",
            "idp_lockouts_total{outcome=\"password\"} 0",
            "idp_lockouts_total{outcome=\"totp\"} 0",
            "idp_signins_total{outcome=\"password_ok\"} 0",
            "idp_mfa_codes_total{outcome=\"replayed\"} 0",
            "idp_sessions_expired_total 0",
        ] {
            assert!(text.contains(series), "{series} in\n{text}");
        }
    }
}
