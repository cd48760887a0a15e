"""CDK constructs for Interaction Lake: one Construct per logical unit (issue 3)."""
