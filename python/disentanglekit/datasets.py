"""Ground-truth datasets with disentanglement_lib's ``GroundTruthData`` interface.

``load("dsprites")``, ``load("cars3d")``, ``load("shapes3d")`` and the Color/Noisy/Scream dSprites
variants are procedural: nothing to download. The ``-official`` names, ``smallnorb`` and
``mpi3d-*`` read the official files from ``data_dir`` (or ``$DISENTANGLE_DATA``) in
disentanglement_lib's folder layout. Observations are float32 (N, H, W, C) in [0, 1].
"""

from ._native import GroundTruthData, load

__all__ = ["GroundTruthData", "load"]
