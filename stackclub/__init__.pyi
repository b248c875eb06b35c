# The public API of `stackclub`, one name per line: lazy_loader.attach_stub reads this file to
# import each name on first use, and type checkers and IDEs read it as the package's interface.
# Add a name with one line `from .module import name as name`; `ruff check --fix` keeps the order.
from ._exceptions import StackClubError as StackClubError
from ._version import __version__ as __version__
from .clean_start import start_clean as start_clean
from .commands import run_command as run_command
from .config_docs import diff_configs as diff_configs
from .config_docs import show_config as show_config
from .display import compare as compare
from .display import show_histogram as show_histogram
from .display import show_image as show_image
from .display_camera import show_amplifiers as show_amplifiers
from .display_sources import show_psf as show_psf
from .display_sources import show_sources as show_sources
from .explore import explore_task as explore_task
from .health import doctor as doctor
from .installed import versions as versions
from .logs import capture_logs as capture_logs
from .pipeline_docs import show_connections as show_connections
from .pipeline_docs import show_pipeline as show_pipeline
from .qgraph import bps_config_path as bps_config_path
from .qgraph import qgraph_status as qgraph_status
from .qgraph import show_qgraph as show_qgraph
from .qgraph import summarize_qgraph as summarize_qgraph
from .repo_summary import summarize_repo as summarize_repo
from .simcam.repo import demo_repo as demo_repo
from .source import uses_of as uses_of
from .source import where_is as where_is
from .task_log import show_task_log as show_task_log
from .task_tree import show_task_tree as show_task_tree

def load_ipython_extension(ipython: object) -> None: ...
