//! `depot`: the Depot registry server (`depot serve`), its read-only mirror
//! (`depot mirror`) and its command-line client.

fn main() -> anyhow::Result<()> {
    depot::main()
}
