"""Where pods come from: the built-in local pods, plain SSH hosts, RunPod."""
