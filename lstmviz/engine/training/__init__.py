"""Training: optimisers (optim), loss-and-gradient kernels (kernels), the trainer (trainer),
a trainer in a worker process (process), training histories (history) and the sweep of
success against sequence length (sweep). Pure NumPy like the rest of the engine."""
