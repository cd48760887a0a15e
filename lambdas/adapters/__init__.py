"""The AWS side of the runtime: one module per store, over the pure core in lambdas.core."""
