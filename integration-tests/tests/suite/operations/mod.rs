//! Running the provider: the operator's commands (`cli`), the real binary under signals
//! (`process`), a reload of the clients (`client_reload`), replicas on one database, the metrics
//! listener, and failure behaviour (`resilience`).

mod cli;
mod client_reload;
mod metrics;
pub mod process;
mod replicas;
mod resilience;
