"""CDK constructs for Interaction Lake: one Construct per logical unit."""
