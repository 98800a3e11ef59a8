"""Prepares an ultralytics config folder so nothing is ever downloaded at run time.

ultralytics looks for Arial.ttf / Arial.Unicode.ttf in its config folder (YOLO_CONFIG_DIR) when
checking datasets and plotting, and downloads them when missing. We place matplotlib's bundled
DejaVu Sans under those names and switch off every online integration in its settings.

Usage: offline_setup.py <yolo_config_dir>
"""

import os
import shutil
import sys
from pathlib import Path

FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: offline_setup.py <yolo_config_dir>", file=sys.stderr)
        return 2
    config_dir = Path(argv[1]).resolve()
    config_dir.mkdir(parents=True, exist_ok=True)

    import matplotlib

    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in FONT_NAMES:
        target = config_dir / name
        if not target.exists():
            shutil.copyfile(font, target)

    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    os.environ["YOLO_OFFLINE"] = "true"
    sys.path.insert(0, str(Path(__file__).parent))
    from gf_protocol import disable_ultralytics_integrations

    disable_ultralytics_integrations()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
