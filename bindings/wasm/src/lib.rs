//! WebAssembly bindings (placeholder until the browser issue lands).
