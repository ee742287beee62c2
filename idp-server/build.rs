//! The message catalogues under `locales/` are compiled into the binary (`src/i18n.rs`): a
//! changed file is tracked by the `include_str!` the loader expands to, a new file or language
//! folder only by this.
fn main() {
    println!("cargo:rerun-if-changed=locales");
}
