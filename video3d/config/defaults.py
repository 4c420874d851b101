"""The one configuration tree of video3d.

Key names follow PySlowFast where the meaning matches, so its users can read our YAML.
Every key carries a one-line comment. `get_cfg()` returns a fresh copy; YAML files and
command-line overrides are merged onto it by `video3d.config.load_config`.
"""

from fvcore.common.config import CfgNode

_C = CfgNode()

# ----------------------------------------------------------------------------- top level
_C.NUM_GPUS = 1  # GPUs per machine (processes per node under torchrun); 0 = CPU only
_C.NUM_SHARDS = 1  # number of machines (nodes) in the job
_C.SHARD_ID = 0  # index of this machine (node) in the job
_C.DIST_BACKEND = "auto"  # torch.distributed backend: auto (nccl on GPU, gloo on CPU), nccl, gloo
_C.OUTPUT_DIR = "./output"  # where config.yaml, logs, checkpoints, plots and results go
_C.RNG_SEED = 0  # seed for python, numpy and torch (offset by rank in data workers)
_C.LOG_PERIOD = 10  # iterations between json_stats train_iter lines
_C.CPU_THREADS = 0  # intra-op threads per process; 0 = auto: cores per process minus DATA_LOADER.NUM_WORKERS, never above OMP_NUM_THREADS (video3d/utils/threads.py)
_C.NETWORK_TIMEOUT = 30.0  # seconds an http(s) server or an RTSP source may stay silent before it is given up

# ----------------------------------------------------------------------------- TRAIN
_C.TRAIN = CfgNode()
_C.TRAIN.ENABLE = True  # run training
_C.TRAIN.DATASET = "kinetics"  # dataset name: kinetics, ssv2, hmdb51
_C.TRAIN.SPLIT = "train"  # list split to train on (train.csv etc.)
_C.TRAIN.BATCH_SIZE = 64  # global batch size over all processes (clips per optimiser step)
_C.TRAIN.EVAL_PERIOD = 1  # epochs between validation passes (single centre view); 0 = never
_C.TRAIN.CHECKPOINT_PERIOD = 1  # epochs between epoch checkpoints
_C.TRAIN.CHECKPOINT_ITERS = 0  # iterations between rolling "last" checkpoints; 0 = off
_C.TRAIN.AUTO_RESUME = True  # resume from the newest complete checkpoint in OUTPUT_DIR
_C.TRAIN.CHECKPOINT_FILE_PATH = ""  # initial weights (3D, or 2D with CHECKPOINT_INFLATE)
_C.TRAIN.CHECKPOINT_INFLATE = False  # the initial weights are a 2D network's, inflate them
_C.TRAIN.CHECKPOINT_INFLATE_METHOD = "auto"  # 2D to 3D inflation: centre (exact), mean (I3D), auto (mean for slow/c2d/i3d as PySlowFast, else centre)
_C.TRAIN.CHECKPOINT_EPOCH_RESET = False  # True: start at epoch 0; False: continue the file's epoch and optimizer (PySlowFast)
_C.TRAIN.CHECKPOINT_ALLOW_PARTIAL = False  # initial weights may leave backbone tensors untouched (missing or of another shape)
_C.TRAIN.MIXED_PRECISION = "fp32"  # training autocast: auto, fp32, bf16, fp16 (video3d/utils/precision.py)
_C.TRAIN.ACCUM_STEPS = 1  # micro-batches per optimiser step (gradient accumulation)
_C.TRAIN.CLIP_GRAD_NORM = 0.0  # max gradient L2 norm; 0 = no clipping
_C.TRAIN.SAVE_BEST = True  # keep checkpoint_best.pyth from the best validation top-1
_C.TRAIN.CHANNELS_LAST = False  # channels_last_3d model and input clips in training (README: not faster on CPU)
_C.TRAIN.COMPILE = False  # torch.compile the training model (README: measured gain and compile time)
_C.TRAIN.COMPILE_MODE = "default"  # torch.compile mode: default, reduce-overhead, max-autotune, max-autotune-no-cudagraphs

# ----------------------------------------------------------------------------- TEST
_C.TEST = CfgNode()
_C.TEST.ENABLE = True  # run multi-view testing (after training when TRAIN.ENABLE)
_C.TEST.DATASET = "kinetics"  # dataset name: kinetics, ssv2, hmdb51
_C.TEST.SPLIT = "val"  # list split to test on (val.csv, test.csv, ...)
_C.TEST.BATCH_SIZE = 30  # views per network forward over all processes (PySlowFast: over all GPUs)
_C.TEST.NUM_ENSEMBLE_VIEWS = 10  # temporal clips per video, spaced evenly start to end
_C.TEST.NUM_SPATIAL_CROPS = 3  # spatial crops per clip: 1 (centre) or 3 (sides and centre)
_C.TEST.CLIP_SAMPLING = "spread"  # test clips and crops: spread (ours) or pyslowfast (PySlowFast's exact rule)
_C.TEST.CHECKPOINT_FILE_PATH = ""  # weights to test; empty = best, else newest in OUTPUT_DIR
_C.TEST.MIXED_PRECISION = "fp32"  # test/predict/demo/serve autocast: auto, fp32, bf16, fp16
_C.TEST.SAVE_RESULTS_PATH = "results.json"  # per-video scores, relative to OUTPUT_DIR; "" = off

# ----------------------------------------------------------------------------- DATA
_C.DATA = CfgNode()
_C.DATA.PATH_TO_DATA_DIR = ""  # folder holding the split lists (train.csv, val.csv, ...)
_C.DATA.PATH_PREFIX = ""  # prepended to every path in the lists
_C.DATA.PATH_LABEL_SEPARATOR = " "  # field separator of the lists
_C.DATA.FORMAT = "video"  # what the lists point at: video (files) or frames (folders)
_C.DATA.MODALITY = "rgb"  # rgb (3 channels) or flow (2 channels, TV-L1 x/y)
_C.DATA.DECODING_BACKEND = "pyav"  # video decoder: pyav, decord or torchcodec (docs/ENVIRONMENT.md)
_C.DATA.DECODE_DEVICE = "cpu"  # where torchcodec decodes: cpu, or cuda (NVDEC; needs DATA_LOADER.NUM_WORKERS 0)
_C.DATA.NUM_FRAMES = 16  # frames per clip fed to the network
_C.DATA.SAMPLING_RATE = 4  # stride between clip frames, in frames at TARGET_FPS
_C.DATA.TARGET_FPS = 30  # frame rate the sampling rate is expressed at
_C.DATA.TRAIN_JITTER_SCALES = [256, 320]  # training short-side scale range (pixels)
_C.DATA.TRAIN_CROP_SIZE = 224  # training crop (square, pixels)
_C.DATA.TEST_CROP_SIZE = 256  # test short side and crop size (pixels)
_C.DATA.MEAN = [0.45, 0.45, 0.45]  # RGB mean after /255 (flow uses FLOW_MEAN)
_C.DATA.STD = [0.225, 0.225, 0.225]  # RGB std after /255
_C.DATA.FLOW_MEAN = [128.0, 128.0]  # flow quantised mean: (q - 128) / 128
_C.DATA.FLOW_STD = [128.0, 128.0]  # flow quantised scale
# How the flow this model reads was (or, from raw video, is) computed: algorithm and the
# quantisation bound in pixels (docs/FLOW.md; data_prep.extract_flow --algo / --bound).
_C.DATA.FLOW_ALGO = "tvl1"  # tvl1, dis or farneback
_C.DATA.FLOW_BOUND = 20.0  # flow clipped to +-bound pixels, then mapped to 0..255
_C.DATA.FLOW_SHORT_SIDE = 0  # extract_flow --short-side the flow was computed at (0 = not given)
_C.DATA.FLOW_SIZE = []  # extract_flow --size as [width, height] (empty = not given); neither = native size
_C.DATA.FLOW_FPS = 0.0  # extract_flow --fps the frames were resampled to before flow (0 = every frame)
_C.DATA.FLOW_COMPILE = False  # online TV-L1 (DATA.FORMAT video) through torch.compile: warm-up, then faster
_C.DATA.INPUT_CHANNEL_NUM = []  # empty = from MODALITY (rgb [3], flow [2]); a set value must agree
_C.DATA.RANDOM_FLIP = True  # horizontal flip in training
_C.DATA.FLIP_LABEL_MAP = []  # label pairs swapped by a flip, e.g. [[0, 1], [4, 5]]
_C.DATA.ENSEMBLE_METHOD = "mean"  # view aggregation of softmax scores: mean, sum or max
_C.DATA.CLASS_NAMES_FILE = ""  # optional class names, one per line (index = label)
_C.DATA.SPLIT_ID = 1  # HMDB51 official split number: 1, 2 or 3
_C.DATA.SSV2_LABELS_DIR = ""  # folder of the SSv2 json files (labels, train, validation)
_C.DATA.MAX_CONSECUTIVE_FAILURES = 20  # unreadable samples in a row before the loader stops

# ----------------------------------------------------------------------------- SYNTHMOTION
_C.SYNTHMOTION = CfgNode()
_C.SYNTHMOTION.ENABLE = False  # tools/run_net.py generates SynthMotion into DATA.PATH_TO_DATA_DIR if missing
_C.SYNTHMOTION.NUM_TRAIN = 320  # training videos (balanced over the 8 classes)
_C.SYNTHMOTION.NUM_VAL = 96  # validation videos
_C.SYNTHMOTION.SEED = 0  # generator seed (same seed, same bytes)
_C.SYNTHMOTION.SIZE = 96  # frame side in pixels
_C.SYNTHMOTION.FRAMES = 60  # frames per video (at 30 fps)
_C.SYNTHMOTION.NUM_BROKEN = 0  # broken files (truncated, empty, garbage) mixed into each list
_C.SYNTHMOTION.ROOT = ""  # where the videos go; empty = DATA.PATH_TO_DATA_DIR
_C.SYNTHMOTION.FLOW_ALGO = ""  # also extract flow (dis, tvl1, farneback) into DATA.PATH_TO_DATA_DIR

# ----------------------------------------------------------------------------- DATA_LOADER
_C.DATA_LOADER = CfgNode()
_C.DATA_LOADER.NUM_WORKERS = 2  # data-loading worker processes per training process
_C.DATA_LOADER.PIN_MEMORY = True  # page-locked batches (used only with a GPU)
_C.DATA_LOADER.DECODE_THREADS = 1  # decoder threads per worker (1 is fastest at 256p)

# ----------------------------------------------------------------------------- AUG
_C.AUG = CfgNode()
_C.AUG.ENABLE = False  # extra training augmentation through pytorchvideo
_C.AUG.TYPE = "randaug"  # randaug or augmix
_C.AUG.MAGNITUDE = 9  # RandAugment / AugMix magnitude
_C.AUG.NUM_LAYERS = 2  # RandAugment operations per clip

# ----------------------------------------------------------------------------- MIXUP
_C.MIXUP = CfgNode()
_C.MIXUP.ENABLE = False  # mixup / cutmix on training clips
_C.MIXUP.ALPHA = 0.8  # mixup Beta(alpha, alpha); 0 = off
_C.MIXUP.CUTMIX_ALPHA = 1.0  # cutmix Beta(alpha, alpha); 0 = off
_C.MIXUP.PROB = 1.0  # probability of mixing a batch
_C.MIXUP.SWITCH_PROB = 0.5  # probability of cutmix instead of mixup when both are on
_C.MIXUP.LABEL_SMOOTH_VALUE = 0.1  # label smoothing of the mixed targets

# ----------------------------------------------------------------------------- SOLVER
_C.SOLVER = CfgNode()
_C.SOLVER.OPTIMIZING_METHOD = "sgd"  # sgd or adamw
_C.SOLVER.BASE_LR = 0.1  # the learning rate used (PySlowFast's meaning), unless LR_SCALING linear
_C.SOLVER.LR_SCALING = "none"  # none: BASE_LR as is; linear: x TRAIN.BATCH_SIZE / SOLVER.BASE_BATCH_SIZE
_C.SOLVER.BASE_BATCH_SIZE = 64  # batch the BASE_LR is quoted for (read only with LR_SCALING linear)
_C.SOLVER.BASE_LR_SCALE_NUM_SHARDS = False  # every SOLVER LR x NUM_SHARDS (PySlowFast's per-node LR)
_C.SOLVER.LR_POLICY = "steps_with_relative_lrs"  # steps_with_relative_lrs or cosine
_C.SOLVER.STEPS = [0, 30, 60, 80]  # epochs where each LRS factor starts (iResNet recipe)
_C.SOLVER.LRS = [1.0, 0.1, 0.01, 0.001]  # factors of BASE_LR for each step (extra values unused)
_C.SOLVER.MAX_EPOCH = 90  # training epochs
_C.SOLVER.COSINE_END_LR = 0.0  # final LR of the cosine policy
_C.SOLVER.WARMUP_EPOCHS = 0.0  # linear warm-up length in epochs (fractional allowed)
_C.SOLVER.WARMUP_START_LR = 0.01  # LR at iteration 0 of the warm-up (before scaling)
_C.SOLVER.MOMENTUM = 0.9  # SGD momentum
_C.SOLVER.NESTEROV = True  # Nesterov momentum (PySlowFast's default)
_C.SOLVER.WEIGHT_DECAY = 1e-4  # L2 weight decay
_C.SOLVER.ZERO_WD_1D_PARAM = False  # no weight decay on 1-D parameters and biases (BN: BN.WEIGHT_DECAY)
_C.SOLVER.LABEL_SMOOTHING = 0.0  # label smoothing of the cross-entropy (without mixup)

# ----------------------------------------------------------------------------- MODEL
_C.MODEL = CfgNode()
_C.MODEL.ARCH = "resnet3d"  # resnet3d, or PySlowFast's slow, c2d, i3d (presets of the same skeleton)
_C.MODEL.MODEL_NAME = "iresnet3d_50"  # human-readable variant name, used in logs
_C.MODEL.NUM_CLASSES = 400  # output classes
_C.MODEL.HEAD = "linear"  # linear (GAP, dropout, FC) or ffc (Sequential Feature Filtering)
_C.MODEL.DROPOUT_RATE = 0.5  # dropout before the classifier
_C.MODEL.CHANNELS_LAST = False  # channels_last_3d memory format (faster CPU inference)

# ----------------------------------------------------------------------------- RESNET
_C.RESNET = CfgNode()
_C.RESNET.DEPTH = 50  # 18, 34 (basic blocks); 50, 101, 152, 200 (bottlenecks)
_C.RESNET.STAGE_BLOCKS = []  # blocks per stage; empty = the standard list for DEPTH
_C.RESNET.STEM = "basic"  # basic (kt x 7 x 7 conv) or deep (three 3x3 convs, ResNeSt)
_C.RESNET.STEM_TEMPORAL_KERNEL = 5  # temporal kernel of the stem conv(s)
_C.RESNET.STEM_SPATIAL_KERNEL = 7  # spatial kernel of the basic stem conv
_C.RESNET.STEM_POOL = True  # 1x3x3 max-pool after the stem
_C.RESNET.STEM_WIDTH = 64  # stem output channels (deep stem: WIDTH/2, WIDTH/2, WIDTH)
_C.RESNET.LAYOUT = "standard"  # standard (post-activation) or improved (iResNet ResStage)
_C.RESNET.SHORTCUT = "conv"  # projection shortcut: conv, maxpool (iResNet) or avgdown (ResNet-D)
_C.RESNET.BLOCK = "bottleneck"  # block transformation: basic, bottleneck, hs or splat
_C.RESNET.NUM_GROUPS = 1  # groups of the 3x3 conv (ResNeXt cardinality)
_C.RESNET.WIDTH_PER_GROUP = 64  # channels per group of the first stage's 3x3 conv
_C.RESNET.TEMPORAL_KERNELS = [3, 3, 3, 3]  # per stage: a kernel, or a list cycled over the blocks (I3D: [3, 1])
_C.RESNET.TEMPORAL_CONV = "b"  # bottleneck conv with the temporal kernel: b (the 3x3, video3d) or a (the first 1x1, PySlowFast)
_C.RESNET.STRIDE_1X1 = False  # bottleneck: spatial stride on the first 1x1 conv (True) or on the 3x3 (False)
_C.RESNET.NUM_BLOCK_TEMP_KERNEL = []  # per stage: blocks (from the first) with a temporal kernel, the rest 1; empty = all
_C.RESNET.TEMPORAL_STRIDES = [1, 1, 2, 2]  # temporal stride of each stage (iResNet Table 11)
_C.RESNET.SPATIAL_STRIDES = [1, 2, 2, 2]  # spatial stride of each stage
_C.RESNET.STAGE1_TEMPORAL_POOL = 1  # temporal max-pool (kernel = stride) after stage 1; 1 = none (C2D, I3D: 2)
_C.RESNET.ZERO_INIT_FINAL_BN = False  # zero-init the last BN gamma of each residual block

# ----------------------------------------------------------------------------- IRESNET
_C.IRESNET = CfgNode()
_C.IRESNET.OFFICIAL_INPLACE_RELU = False  # reproduce the official code's in-place ReLU quirk

# ----------------------------------------------------------------------------- HS
_C.HS = CfgNode()
_C.HS.WIDTH = 16  # channels per split w of the first stage (doubles per stage)
_C.HS.SCALE = 6  # number of splits s

# ----------------------------------------------------------------------------- SPLAT
_C.SPLAT = CfgNode()
_C.SPLAT.RADIX = 2  # splits per cardinal group (R)
_C.SPLAT.CARDINALITY = 1  # cardinal groups (K)
_C.SPLAT.BOTTLENECK_WIDTH = 64  # group width of the first stage
_C.SPLAT.AVD = True  # average-pool downsampling inside strided blocks
_C.SPLAT.AVD_FIRST = False  # pool before (True) or after (False) the split-attention conv

# ----------------------------------------------------------------------------- FFC
_C.FFC = CfgNode()
_C.FFC.TRAIN_ENSEMBLE = "mean7"  # training logits: mean7 (paper) or mean4 (official code)
_C.FFC.TEST_ENSEMBLE = "vote"  # test rule: vote (paper) or mean of the seven outputs

# ----------------------------------------------------------------------------- BN
_C.BN = CfgNode()
_C.BN.NORM_TYPE = "batchnorm"  # batchnorm or sync_batchnorm (across processes)
_C.BN.EPSILON = 1e-5  # BatchNorm epsilon
_C.BN.MOMENTUM = 0.1  # BatchNorm running-statistics momentum
_C.BN.WEIGHT_DECAY = 0.0  # weight decay of the BatchNorm parameters (PySlowFast's optimizer groups)
_C.BN.USE_PRECISE_STATS = False  # recompute BN statistics before each validation
_C.BN.NUM_BATCHES_PRECISE = 200  # training batches used for precise BN statistics

# ----------------------------------------------------------------------------- MULTIGRID
# PySlowFast's keys (Wu et al., CVPR 2020); the schedule is in video3d/config/multigrid.py.
_C.MULTIGRID = CfgNode()
_C.MULTIGRID.LONG_CYCLE = False  # cycle (frames, crop, batch) through LONG_CYCLE_FACTORS within each LR step
_C.MULTIGRID.SHORT_CYCLE = False  # cycle the crop through SHORT_CYCLE_FACTORS from one mini-batch to the next
_C.MULTIGRID.LONG_CYCLE_FACTORS = [[0.25, 0.7071], [0.5, 0.7071], [0.5, 1.0], [1.0, 1.0]]  # [frames, crop] factors, cheapest first, ending at [1, 1]
_C.MULTIGRID.SHORT_CYCLE_FACTORS = [0.5, 0.7071]  # crop factors of DEFAULT_S of the two smaller short-cycle batches
_C.MULTIGRID.EPOCH_FACTOR = 1.5  # epochs of the multigrid run / SOLVER.MAX_EPOCH (the paper: 1.5)
_C.MULTIGRID.BN_BASE_SIZE = 8  # clips per BatchNorm statistics group in training, whatever the batch; 0 = whole batch
_C.MULTIGRID.BATCH_EXPONENT = 1.0  # batch grows by (cost ratio of the shape) ** this (1: PySlowFast; 0: fixed batch)
_C.MULTIGRID.LR_BATCH_EXPONENT = 1.0  # long-cycle LR x batch factor ** this (1: PySlowFast's linear rule; 0.5: square root)
_C.MULTIGRID.RANDOM_SAMPLING_RATE = True  # a clip with fewer frames takes a random rate from DATA.SAMPLING_RATE up to the span-keeping one (PySlowFast)
_C.MULTIGRID.DEFAULT_S = 0  # full training crop the factors refer to; 0 = DATA.TRAIN_CROP_SIZE
_C.MULTIGRID.SCHEDULE = []  # set by the trainer ([step, batch factor, frames, crop, end epoch] per phase); leave empty

# ----------------------------------------------------------------------------- TENSORBOARD
_C.TENSORBOARD = CfgNode()
_C.TENSORBOARD.ENABLE = False  # write TensorBoard scalars
_C.TENSORBOARD.LOG_DIR = ""  # event folder; empty = OUTPUT_DIR/runs


def get_cfg() -> CfgNode:
    """A fresh, mutable copy of the defaults."""
    return _C.clone()
