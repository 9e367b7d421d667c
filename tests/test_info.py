import json
import os

import kuzet
from kuzet.cli import main


def test_build_info_reports_native_libraries():
    info = kuzet.build_info()
    assert info["version"] == kuzet.__version__
    assert info["ffmpeg_libraries"]["libavcodec"].count(".") == 2
    assert info["openssl"].startswith("OpenSSL 3")
    # the vector code the CPU pixel loops run here: what the CPU's flags allow
    assert info["cpu_simd"] in ("scalar", "avx2", "avx512")
    if os.path.exists("/proc/cpuinfo"):
        flags = set(open("/proc/cpuinfo").read().split())
        expected = "avx512" if {"avx512f", "avx512bw"} <= flags else "avx2" if "avx2" in flags else "scalar"
        assert info["cpu_simd"] == expected
    assert "CPUExecutionProvider" in info["onnxruntime"]["providers"]
    assert isinstance(info["cuda"]["built"], bool)
    if not info["cuda"]["devices"]:
        assert info["cuda"]["error"]


def test_info_command_prints_json(capsys):
    assert main(["info"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["version"] == kuzet.__version__


def test_inference_parts_load_on_first_use():
    import subprocess
    import sys

    code = ("import sys, kuzet; assert 'onnxruntime' not in sys.modules; "
            "assert kuzet.PlatePipeline.__name__ == 'PlatePipeline' and 'onnxruntime' in sys.modules; "
            "assert set(kuzet._LAZY) <= set(kuzet.__all__)")
    subprocess.run([sys.executable, "-c", code], check=True)
