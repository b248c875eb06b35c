# The public API of `stackclub.simcam`, one name per line: lazy_loader.attach_stub reads this file
# to import each name on first use; type checkers and IDEs read it as the package's interface.
from .calibs import simulate_calibs as simulate_calibs
from .camera import DEFAULT_GEOMETRY as DEFAULT_GEOMETRY
from .camera import HSC_GEOMETRY as HSC_GEOMETRY
from .camera import SIMCAM as SIMCAM
from .camera import SMALL_GEOMETRY as SMALL_GEOMETRY
from .camera import DetectorGeometry as DetectorGeometry
from .camera import amp_boxes as amp_boxes
from .camera import assembled_bbox as assembled_bbox
from .camera import make_detector as make_detector
from .camera import raw_bbox as raw_bbox
from .formatters import RawFormatter as RawFormatter
from .instrument import SimCam as SimCam
from .raw import RawExposure as RawExposure
from .raw import make_obs_info as make_obs_info
from .repo import BuildReport as BuildReport
from .repo import build_demo_repo as build_demo_repo
from .repo import default_demo_repo_path as default_demo_repo_path
from .repo import demo_repo as demo_repo
from .sky import DetectorSignature as DetectorSignature
from .sky import Visit as Visit
from .sky import make_truth_catalog as make_truth_catalog
from .sky import make_visits as make_visits
from .sky import seeded_rng as seeded_rng
from .sky import simulate_exposure as simulate_exposure
from .sky import true_wcs as true_wcs
