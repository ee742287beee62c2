//! `idp-server import` through the real binary: what each line does (`lines`), what the report
//! prints (`output`), and the account an import is run for (`scope`).

mod lines;
mod output;
mod scope;
