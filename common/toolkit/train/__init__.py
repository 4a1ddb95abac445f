"""Training, by job:

- `fit`: Keras fit with a checkpoint of the whole training state (exact resume), seeds, prediction, the device;
- `recipe`: a paper's `ReplicaRecipe` (its training described once) and the TensorFlow path, one fold via fit;
- `replicas`: which path runs; on JAX every fold trained at once as replicas; several-stage experiments;
- `engine`: the replicas' compiled JAX step and its explicit state; `losses`: its cross-entropies;
- `bench`: the engine's benchmark, for a paper's BENCHMARKS.
"""
