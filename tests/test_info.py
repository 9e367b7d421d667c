import json

import kuzet
from kuzet.cli import main


def test_build_info_reports_native_libraries():
    info = kuzet.build_info()
    assert info["version"] == kuzet.__version__
    assert info["ffmpeg_libraries"]["libavcodec"].count(".") == 2
    assert info["openssl"].startswith("OpenSSL 3")
    assert "CPUExecutionProvider" in info["onnxruntime"]["providers"]
    assert isinstance(info["cuda"]["built"], bool)
    if not info["cuda"]["devices"]:
        assert info["cuda"]["error"]


def test_info_command_prints_json(capsys):
    assert main(["info"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["version"] == kuzet.__version__
