from os import PathLike
from typing import List, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

RandomState = Union[int, None, np.random.RandomState, np.random.Generator]

class GroundTruthData:
    """A ground-truth dataset with disentanglement_lib's GroundTruthData interface."""

    @property
    def name(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def num_factors(self) -> int: ...
    @property
    def factors_num_values(self) -> List[int]: ...
    @property
    def factor_sizes(self) -> List[int]: ...
    @property
    def factor_names(self) -> List[str]: ...
    @property
    def observation_shape(self) -> Tuple[int, int, int]:
        """(H, W, C)."""
    @property
    def is_stochastic(self) -> bool: ...
    def __len__(self) -> int: ...
    def sample_factors(self, num: int, random_state: RandomState = None) -> npt.NDArray[np.int64]:
        """(num, K) factor classes, each factor uniform."""
    def sample_observations_from_factors(
        self, factors: npt.ArrayLike, random_state: RandomState = None
    ) -> npt.NDArray[np.float32]:
        """(N, H, W, C) observations in [0, 1]."""
    def sample(
        self, num: int, random_state: RandomState = None
    ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...
    def sample_observations(self, num: int, random_state: RandomState = None) -> npt.NDArray[np.float32]: ...

def load(name: str, data_dir: Optional[Union[str, PathLike]] = None) -> GroundTruthData:
    """Opens a dataset by name (dsprites, cars3d, shapes3d, ... procedural; *-official, smallnorb,
    mpi3d-* from data_dir) or by path."""
