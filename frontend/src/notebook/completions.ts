// Completion of the engine's PyTorch API for the cell editor: torch., nn., F., optim., data.,
// Tensor methods after a dot, Python keywords/builtins, and the words used in the notebook.

import type { Completion, CompletionContext, CompletionResult } from "@codemirror/autocomplete";

const w = (s: string) => s.trim().split(/\s+/);

const TORCH = w(`
tensor zeros ones empty full arange linspace logspace eye rand randn randint randperm rand_like randn_like zeros_like ones_like full_like empty_like
from_numpy as_tensor manual_seed seed no_grad enable_grad set_grad_enabled inference_mode is_grad_enabled is_tensor numel
cat stack split chunk reshape flatten squeeze unsqueeze transpose permute t narrow gather scatter index_select masked_select where take
matmul mm bmm dot mv outer einsum tensordot cross
add sub mul div true_divide floor_divide remainder fmod pow exp exp2 log log2 log10 log1p expm1 sqrt rsqrt abs neg sign reciprocal
sin cos tan asin acos atan atan2 sinh cosh tanh sigmoid relu softmax log_softmax clamp clip floor ceil round trunc frac lerp
sum mean std var prod max min amax amin argmax argmin norm cumsum cumprod logsumexp median mode sort argsort topk kthvalue unique
all any eq ne lt le gt ge equal allclose isclose isnan isinf isfinite maximum minimum
float32 float64 float16 bfloat16 int64 int32 int16 int8 uint8 bool long float double half int
device cuda save load jit onnx autograd nn optim utils backends set_default_dtype get_default_dtype set_printoptions
Tensor Size dtype Generator
`);

const NN = w(`
Module Sequential ModuleList ModuleDict Parameter ParameterList ParameterDict Identity
Linear Bilinear Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d MaxPool1d MaxPool2d AvgPool1d AvgPool2d AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveMaxPool2d
BatchNorm1d BatchNorm2d LayerNorm GroupNorm InstanceNorm2d Dropout Dropout2d Embedding EmbeddingBag Flatten Unflatten
ReLU LeakyReLU PReLU ELU SELU GELU SiLU Mish Sigmoid Tanh Softmax LogSoftmax Softplus Hardtanh Hardswish Hardsigmoid Softsign Threshold
RNN LSTM GRU RNNCell LSTMCell GRUCell Transformer TransformerEncoder TransformerEncoderLayer MultiheadAttention
MSELoss L1Loss SmoothL1Loss HuberLoss CrossEntropyLoss NLLLoss BCELoss BCEWithLogitsLoss KLDivLoss CosineEmbeddingLoss MarginRankingLoss
functional init utils
`);

const F = w(`
relu relu6 leaky_relu elu selu gelu silu mish sigmoid tanh softmax log_softmax softplus hardtanh hardswish logsigmoid
linear conv1d conv2d conv_transpose2d max_pool1d max_pool2d avg_pool1d avg_pool2d adaptive_avg_pool2d dropout batch_norm layer_norm group_norm embedding
mse_loss l1_loss smooth_l1_loss huber_loss cross_entropy nll_loss binary_cross_entropy binary_cross_entropy_with_logits kl_div cosine_similarity
one_hot pad interpolate normalize unfold fold pairwise_distance
`);

const OPTIM = w(`SGD Adam AdamW RMSprop Adagrad Adadelta Adamax NAdam Optimizer lr_scheduler`);
const SCHED = w(`StepLR MultiStepLR ExponentialLR CosineAnnealingLR ReduceLROnPlateau LambdaLR OneCycleLR LinearLR`);
const INIT = w(`xavier_uniform_ xavier_normal_ kaiming_uniform_ kaiming_normal_ normal_ uniform_ zeros_ ones_ constant_ orthogonal_ eye_`);
const DATA = w(`DataLoader Dataset TensorDataset random_split Subset ConcatDataset Sampler RandomSampler SequentialSampler`);

const TENSOR_METHODS = w(`
backward grad grad_fn requires_grad requires_grad_ detach detach_ item tolist numpy clone contiguous is_leaf retain_grad zero_
shape size dim ndim numel dtype device to cpu cuda float double half long int bool type
view view_as reshape reshape_as flatten squeeze unsqueeze transpose permute t T expand expand_as repeat narrow split chunk
sum mean std var prod max min amax amin argmax argmin norm abs exp log sqrt pow clamp clamp_ sigmoid tanh relu softmax log_softmax
matmul mm bmm dot add add_ sub sub_ mul mul_ div div_ neg fill_ copy_ normal_ uniform_ masked_fill masked_fill_ index_select gather scatter_
eq ne lt le gt ge all any isnan topk sort argsort cumsum unique
`);

const MODULE_METHODS = w(`
parameters named_parameters children named_children modules named_modules state_dict load_state_dict train eval zero_grad forward
register_buffer register_parameter apply to cpu cuda requires_grad_ add_module
step zero_grad param_groups
`);

const PY = w(`
False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda
nonlocal not or pass raise return try while with yield
print len range enumerate zip map filter sorted reversed list dict set tuple str int float bool abs min max sum round isinstance type
super object getattr setattr hasattr open format repr iter next any all
`);

const MODULES: Record<string, string[]> = {
  torch: TORCH,
  nn: NN,
  "torch.nn": NN,
  F: F,
  functional: F,
  "torch.nn.functional": F,
  "nn.functional": F,
  optim: OPTIM,
  "torch.optim": OPTIM,
  lr_scheduler: SCHED,
  "optim.lr_scheduler": SCHED,
  "torch.optim.lr_scheduler": SCHED,
  init: INIT,
  "nn.init": INIT,
  "torch.nn.init": INIT,
  data: DATA,
  "torch.utils.data": DATA,
  "utils.data": DATA,
};

function typeOf(name: string): Completion["type"] {
  return /^[A-Z]/.test(name) ? "class" : "function";
}

const cache = new Map<string, Completion[]>();
function options(key: string, names: string[], type?: string): Completion[] {
  let c = cache.get(key);
  if (!c) {
    c = names.map((label) => ({ label, type: type ?? typeOf(label), boost: 1 }));
    cache.set(key, c);
  }
  return c;
}

const MEMBER_FALLBACK = [...new Set([...TENSOR_METHODS, ...MODULE_METHODS])];

/** A completion source; `words()` gives identifiers used anywhere in the notebook. */
export function pytorchCompletions(words: () => Iterable<string>) {
  return (ctx: CompletionContext): CompletionResult | null => {
    const match = ctx.matchBefore(/[A-Za-z_][\w.]*$/);
    if (!match) return ctx.explicit ? { from: ctx.pos, options: globalOptions(words) } : null;
    const text = match.text;
    const dot = text.lastIndexOf(".");
    if (dot >= 0) {
      const owner = text.slice(0, dot);
      const from = match.from + dot + 1;
      const known = MODULES[owner];
      if (known) return { from, options: options(owner, known), validFor: /^\w*$/ };
      return { from, options: options("member", MEMBER_FALLBACK, "method"), validFor: /^\w*$/ };
    }
    if (text.length < 2 && !ctx.explicit) return null;
    return { from: match.from, options: globalOptions(words), validFor: /^\w*$/ };
  };
}

function globalOptions(words: () => Iterable<string>): Completion[] {
  const seen = new Set<string>();
  const out: Completion[] = [];
  for (const m of ["torch", "nn", "F", "optim", "DataLoader", "TensorDataset", "SummaryWriter"]) {
    seen.add(m);
    out.push({ label: m, type: m === "DataLoader" || m === "TensorDataset" || m === "SummaryWriter" ? "class" : "namespace", boost: 2 });
  }
  for (const k of PY) {
    if (seen.has(k)) continue;
    seen.add(k);
    out.push({ label: k, type: /^[a-z]+$/.test(k) && KEYWORDS.has(k) ? "keyword" : "function" });
  }
  for (const word of words()) {
    if (seen.has(word) || word.length < 2) continue;
    seen.add(word);
    out.push({ label: word, type: "variable", boost: -1 });
  }
  return out;
}

const KEYWORDS = new Set(w(`False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield`));

/** Identifiers in a piece of source (for the notebook-words part of completion). */
export function identifiers(src: string, into: Set<string>): void {
  const re = /[A-Za-z_][A-Za-z0-9_]{1,40}/g;
  let m: RegExpExecArray | null;
  let n = 0;
  while ((m = re.exec(src)) && n < 20000) {
    into.add(m[0]);
    n++;
  }
}
