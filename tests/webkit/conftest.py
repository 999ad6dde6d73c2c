"""Fixtures that drive the real kiosk page in WebKit, the iPad's engine family (issue 14).

Playwright's own WebKit cannot be installed here (it downloads a browser), so this drives
Debian's WebKitGTK instead: its MiniBrowser (mock camera and microphone) through Selenium and
WebKitWebDriver, under a private Xvfb. Like Safari, it records only MP4 (H.264 + AAC,
fragmented, no duration in the header).

Debian 12's GStreamer (1.22) lacks the ``autovideoflip`` element WebKitGTK 2.50's recorder
needs, so every video recording would come out empty. ``autovideoflip.c`` here is a tiny
test-only plugin (a bin around ``videoflip``) built at setup with gcc and loaded through
``GST_PLUGIN_PATH``; voxpop never ships it.

Without these tools the tests are skipped with the reason, except when ``CI`` is set: CI
installs them (./test.sh does), so there a missing tool is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import (  # noqa: F401 (browser_tmpdir is a fixture)
    LiveKiosk,
    browser_tmpdir,
    make_live_app,
)

HERE = Path(__file__).resolve().parent
MINIBROWSER = Path("/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser")
APT_PACKAGES = (
    "webkit2gtk-driver xvfb xauth gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"
    " gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-gl libgl1-mesa-dri"
    " libgstreamer1.0-dev pkg-config gcc ffmpeg"
)
START_TIMEOUT = 30


def require(present: bool, what: str) -> None:
    """Skip when something the WebKit tests need is missing; fail instead under CI."""
    if present:
        return
    message = f"WebKit tests need {what}"
    if os.environ.get("CI"):
        pytest.fail(f"{message}, and CI must run them (apt-get install -y {APT_PACKAGES})")
    pytest.skip(f"{message} (Debian: apt-get install -y {APT_PACKAGES}; ./test.sh does it)")


def _selenium() -> Any:
    try:
        import selenium.webdriver
    except ImportError:
        require(False, "the selenium package (pip install -e '.[test]')")
    return selenium.webdriver


@pytest.fixture(scope="session")
def webkit_tools() -> str:
    """WebKitWebDriver's path, once everything else the tests need is known to be there."""
    driver = shutil.which("WebKitWebDriver")
    require(driver is not None, "WebKitWebDriver (webkit2gtk-driver)")
    require(MINIBROWSER.exists(), f"{MINIBROWSER} (webkit2gtk-driver)")
    require(shutil.which("Xvfb") is not None, "Xvfb (xvfb)")
    require(shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None, "ffmpeg")
    require(shutil.which("gcc") is not None, "gcc (for the test-only GStreamer shim)")
    pkg = subprocess.run(["pkg-config", "--exists", "gstreamer-1.0"], check=False)
    require(pkg.returncode == 0, "pkg-config and libgstreamer1.0-dev (for the shim)")
    _selenium()
    return str(driver)


@pytest.fixture(scope="session")
def gst_shim(webkit_tools: str, browser_tmpdir: Path) -> Path:  # noqa: F811
    """Build the test-only ``autovideoflip`` GStreamer plugin; return its folder."""
    folder = browser_tmpdir / "gst-plugins"
    folder.mkdir()
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "gstreamer-1.0"],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O2", "-o", str(folder / "libgstvoxpopautovideoflip.so"),
         str(HERE / "autovideoflip.c"), *flags],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return folder


@pytest.fixture(scope="session")
def xvfb_display(webkit_tools: str) -> Iterator[str]:
    """A private X server for MiniBrowser (it has no headless mode)."""
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    if not number:
        server.kill()
        pytest.fail("Xvfb did not start")
    yield f":{number}"
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture
def webkit_driver(
    webkit_tools: str,
    gst_shim: Path,
    xvfb_display: str,
    browser_tmpdir: Path,  # noqa: F811
) -> Iterator[Any]:
    """A fresh MiniBrowser, driven by Selenium: mock camera and microphone, media stream on."""
    webdriver = _selenium()
    from selenium.webdriver.webkitgtk.service import Service

    env = {key: value for key, value in os.environ.items() if key != "WAYLAND_DISPLAY"}
    env.update(
        DISPLAY=xvfb_display,
        GST_PLUGIN_PATH=str(gst_shim),
        # A registry of our own: the shim is found, and the user's cache is left alone.
        GST_REGISTRY_1_0=str(browser_tmpdir / "gst-registry.bin"),
        TMPDIR=str(browser_tmpdir),
    )
    options = webdriver.WebKitGTKOptions()
    options.binary_location = str(MINIBROWSER)
    for argument in (
        "--automation",
        "--enable-media-stream=true",
        "--enable-mock-capture-devices=true",
    ):
        options.add_argument(argument)
    log = browser_tmpdir / f"webkitwebdriver-{time.monotonic_ns()}.log"
    service = Service(executable_path=webkit_tools, env=env, log_output=str(log))
    driver = webdriver.WebKitGTK(options=options, service=service)
    driver.set_script_timeout(60)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


class RestartableLive(LiveKiosk):
    """The app on 127.0.0.1 in a thread, which a test can stop and start on the same port
    (the laptop out of reach, and back)."""

    server: Any = None
    thread: threading.Thread | None = None
    port: int = 0

    def start(self) -> None:
        from werkzeug.serving import make_server

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
                break
            except OSError:  # the port is still being released
                assert time.monotonic() < deadline, f"port {self.port} stayed busy"
                time.sleep(0.2)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.server = None


@pytest.fixture
def webkit_live(browser_tmpdir: Path) -> Iterator[Callable[..., RestartableLive]]:  # noqa: F811
    """Return ``start(**event_settings)``: the real app with the demo event, on a free port."""
    started: list[RestartableLive] = []

    def start(max_clip_seconds: int = 10, idle_timeout_seconds: int = 300) -> RestartableLive:
        app, instance, uploads = make_live_app(
            browser_tmpdir, "live-webkit-", max_clip_seconds, idle_timeout_seconds
        )
        live = RestartableLive(app, "", instance, uploads)
        live.start()
        started.append(live)
        return live

    yield start
    for live in started:
        live.stop()
