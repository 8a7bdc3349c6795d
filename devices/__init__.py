"""Hardware behind small interfaces, each with a simulator that speaks the real wire bytes."""
