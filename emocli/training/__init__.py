"""Training building blocks: data modules, LightningModules, trainers and model stores."""
