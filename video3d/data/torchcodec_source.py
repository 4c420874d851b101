"""`DATA.DECODING_BACKEND torchcodec`: PyTorch's own video decoder, on the CPU or, with
`DATA.DECODE_DEVICE cuda`, on the GPU's NVDEC.

torchcodec is optional: it is installed beside the pinned torch with `pip install --no-deps
torchcodec` and loads the system's FFmpeg shared libraries (FFmpeg 4 to 8), which PyAV's
wheel does not provide (docs/ENVIRONMENT.md). Frame k is the k-th frame in presentation order
(`seek_mode="exact"` scans the file once, as PyAV's decoder reads the timestamps), and
rotation metadata is applied by torchcodec itself. Frames decoded on the GPU stay there
as `[T, H, W, 3]` uint8; a CUDA context cannot live in a forked DataLoader worker, so the
GPU path needs DATA_LOADER.NUM_WORKERS 0 (checked when the source opens).
"""

from __future__ import annotations

import torch

from video3d.config.choices import DECODE_DEVICES
from video3d.data.frame_source import FrameSource
from video3d.errors import ConfigError, DecodeError

INSTALL_HINT = ("DATA.DECODING_BACKEND torchcodec needs the torchcodec package (`pip install --no-deps "
                "torchcodec`, beside the pinned torch) and FFmpeg 4-8 shared libraries (Debian/Ubuntu: "
                "`apt-get install libavcodec59 libavformat59 libavutil57 libswscale6 libswresample4 "
                "libavfilter8 libavdevice59`, or any distribution's ffmpeg; conda: `conda install ffmpeg`)")


def video_decoder_class():
    """torchcodec's VideoDecoder, or a ConfigError saying what to install."""
    try:
        from torchcodec.decoders import VideoDecoder
    except ImportError as error:
        raise ConfigError(f"{INSTALL_HINT}: {error}") from None
    except (OSError, RuntimeError) as error:  # the package is there, FFmpeg's libraries are not
        raise ConfigError(f"{INSTALL_HINT}; loading it failed: {str(error).splitlines()[0]}") from None
    return VideoDecoder


def decoder_device(device: str) -> str:
    """torchcodec's device for DATA.DECODE_DEVICE (`cuda`: this process's current GPU)."""
    DECODE_DEVICES[device]  # a ConfigError naming the key and its values for anything else
    if device == "cpu":
        return "cpu"
    if not torch.cuda.is_available():
        raise ConfigError("DATA.DECODE_DEVICE cuda needs a CUDA GPU, and none is visible; use DATA.DECODE_DEVICE cpu")
    if torch.utils.data.get_worker_info() is not None:
        raise ConfigError("DATA.DECODE_DEVICE cuda decodes in the main process: set DATA_LOADER.NUM_WORKERS 0")
    return f"cuda:{torch.cuda.current_device()}"


class TorchCodecSource(FrameSource):
    """Frames of a video file decoded with torchcodec (optional dependency)."""

    def __init__(self, path: str, threads: int = 1, device: str = "cpu"):
        super().__init__(path)
        video_decoder = video_decoder_class()
        self.device = decoder_device(device)
        try:
            self._decoder = video_decoder(path, device=self.device, seek_mode="exact", dimension_order="NHWC",
                                          num_ffmpeg_threads=threads)
            metadata = self._decoder.metadata
            self._num_frames = int(metadata.num_frames or 0)
            self._fps = float(metadata.average_fps or 0)
            self._height, self._width = int(metadata.height or 0), int(metadata.width or 0)
        except Exception as error:  # torchcodec raises RuntimeError / ValueError for bad files
            self._decoder = None
            raise DecodeError(path, f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}") from error
        if self._num_frames <= 0 or self._fps <= 0 or self._height <= 0 or self._width <= 0:
            self.close()
            raise DecodeError(path, f"empty video stream ({self._num_frames} frames at {self._fps} fps)")

    def _frame_shape(self) -> tuple[int, int]:
        return self._height, self._width

    def _read(self, wanted: list[int]) -> dict[int, torch.Tensor]:
        if self._decoder is None:
            raise DecodeError(self.path, "the source is closed")
        try:
            batch = self._decoder.get_frames_at(indices=wanted).data
        except Exception as error:
            raise DecodeError(self.path, f"decoding frames {wanted[0]}..{wanted[-1]} failed: "
                                         f"{type(error).__name__}: {str(error).splitlines()[0]}") from error
        return dict(zip(wanted, batch.unbind(0), strict=True))

    def close(self) -> None:
        self._decoder = None
