"""The billing system's shared layer: domain core, services and AWS adapters."""
