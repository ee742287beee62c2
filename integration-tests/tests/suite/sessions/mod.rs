//! Sessions and their end: the idle window (`expiry`), logout (`logout`), back-channel logout
//! delivery (`backchannel_delivery`), and what else ends or refuses a session (`ending`).

mod backchannel_delivery;
mod ending;
mod expiry;
mod logout;

use crate::harness::*;
use crate::rp::http;

pub(super) fn metric(server: &TestServer, line_start: &str) -> f64 {
    let text = http()
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}
