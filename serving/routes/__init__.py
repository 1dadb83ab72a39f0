"""HTTP routes, one module per concern; thin: parse, call the domain module, shape the answer."""
