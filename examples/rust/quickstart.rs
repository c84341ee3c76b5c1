//! Reconcile a cycle from files and write the report folder.
//!
//! cargo run --example quickstart -- RULEBOOK ALLOCATIONS DEBITS [MERCHANTS] OUT
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("placeholder");
    Ok(())
}
