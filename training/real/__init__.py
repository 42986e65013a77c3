"""Real photographs in training: IDRiD's lesion masks turned into grades, lesion-free backgrounds, a bank of real
lesions for the generator, and the real validation set no training step touches."""
