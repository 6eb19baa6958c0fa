"""Looking inside trained and untrained nets: one module per study.

* :mod:`.responses` -- Fig. 7 layer responses, gradient RMS, branch vs identity, folding y = W1 x + x.
* :mod:`.first_steps` -- the loss over the first SGD steps at lr 0.1 and 0.01.
* :mod:`.lr_study` -- how often nets collapse at lr 0.1 in their first hundreds of iterations (dead ReLUs).
* :mod:`.multicrop` -- Sec. 3.4's test protocols: flip, 10-crop, the fully-convolutional multi-scale form.
* :mod:`.lesion` -- delete blocks of a trained net at test time (Veit et al. 2016); plain-net control.
* :mod:`.landscape` -- 2-D loss slices along filter-normalised random directions (Li et al. 2018).
* :mod:`.branch_variance` -- residual branch against skip variance per block at initialisation, with and without
  BN (De & Smith 2020).
* :mod:`.convergence` -- iterations to a training-error level against depth: the paper's slow-convergence conjecture.
* :mod:`.shattered` -- input-gradient autocorrelation along a line of inputs at initialisation (Balduzzi et al. 2017).
* :mod:`.identity_map` -- can a plain stack of conv-BN-ReLU layers learn the identity? Plain against residual stacks
  trained to reproduce their input, against depth (chapter 2).
"""
from .first_steps import first_steps, pooled_features
from .responses import branch_vs_identity, eval_images, fold_identity, layer_statistics

__all__ = ["branch_vs_identity", "eval_images", "first_steps", "fold_identity", "layer_statistics",
           "pooled_features"]
