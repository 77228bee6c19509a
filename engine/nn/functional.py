"""``torch.nn.functional``: the functional form of every layer, activation and loss.

This module only gathers the families defined under ``engine/nn/_functional/``."""
from ._functional.linear import *  # noqa: F401,F403
from ._functional.conv import *  # noqa: F401,F403
from ._functional.pooling import *  # noqa: F401,F403
from ._functional.vision import *  # noqa: F401,F403
from ._functional.activation import *  # noqa: F401,F403
from ._functional.norm import *  # noqa: F401,F403
from ._functional.dropout import *  # noqa: F401,F403
from ._functional.sparse import *  # noqa: F401,F403
from ._functional.loss import *  # noqa: F401,F403
from ._functional.rnn import *  # noqa: F401,F403
from ._functional.attention import *  # noqa: F401,F403
