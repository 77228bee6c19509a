// Local backward rules in readable form, one per grad_fn name, for the step card. `grad` is the
// gradient arriving at the op's output; each line says what flows to one input.

export interface Rule {
  forward: string; // what the op computed
  lines: string[]; // gradient to each input
}

const R = (forward: string, ...lines: string[]): Rule => ({ forward, lines });

export const RULES: Record<string, Rule> = {
  AddBackward0: R("out = a + b", "∂out/∂a = grad", "∂out/∂b = grad  (the gradient goes to both inputs)"),
  AddBackward1: R("out = a + c", "∂out/∂a = grad"),
  SubBackward0: R("out = a − b", "∂out/∂a = grad", "∂out/∂b = −grad"),
  SubBackward1: R("out = a − c", "∂out/∂a = grad"),
  RsubBackward0: R("out = b − a", "∂out/∂a = −grad", "∂out/∂b = grad"),
  RsubBackward1: R("out = c − a", "∂out/∂a = −grad"),
  MulBackward0: R("out = a · b", "∂out/∂a = b · grad", "∂out/∂b = a · grad"),
  MulBackward1: R("out = a · c", "∂out/∂a = c · grad"),
  DivBackward0: R("out = a / b", "∂out/∂a = grad / b", "∂out/∂b = −a · grad / b²"),
  DivBackward1: R("out = a / c", "∂out/∂a = grad / c"),
  NegBackward0: R("out = −a", "∂out/∂a = −grad"),
  PowBackward0: R("out = yⁿ", "∂out/∂y = n · yⁿ⁻¹ · grad   (for y**2: 2y · grad)"),
  PowBackward1: R("out = aᵇ", "∂out/∂a = b · aᵇ⁻¹ · grad", "∂out/∂b = aᵇ · ln a · grad"),
  PowBackward2: R("out = cᵇ", "∂out/∂b = cᵇ · ln c · grad"),
  SqrtBackward0: R("out = √a", "∂out/∂a = grad / (2√a)"),
  RsqrtBackward0: R("out = 1/√a", "∂out/∂a = −grad / (2 a^{3/2})"),
  ReciprocalBackward0: R("out = 1/a", "∂out/∂a = −grad / a²"),
  AbsBackward0: R("out = |a|", "∂out/∂a = sign(a) · grad"),
  ExpBackward0: R("out = eᵃ", "∂out/∂a = eᵃ · grad  (= out · grad)"),
  LogBackward0: R("out = ln a", "∂out/∂a = grad / a"),
  Log2Backward0: R("out = log₂ a", "∂out/∂a = grad / (a · ln 2)"),
  Log1PBackward0: R("out = ln(1 + a)", "∂out/∂a = grad / (1 + a)"),
  SinBackward0: R("out = sin a", "∂out/∂a = cos a · grad"),
  CosBackward0: R("out = cos a", "∂out/∂a = −sin a · grad"),
  ReluBackward0: R("out = max(a, 0)", "∂out/∂a = grad where a > 0, else 0"),
  LeakyReluBackward0: R("out = a if a > 0 else s·a", "∂out/∂a = grad where a > 0, else s · grad"),
  GeluBackward0: R("out = a · Φ(a)", "∂out/∂a = (Φ(a) + a · φ(a)) · grad"),
  EluBackward0: R("out = a if a > 0 else α(eᵃ − 1)", "∂out/∂a = grad where a > 0, else (out + α) · grad"),
  SiluBackward0: R("out = a · σ(a)", "∂out/∂a = σ(a)(1 + a(1 − σ(a))) · grad"),
  SigmoidBackward0: R("out = σ(a) = 1/(1 + e⁻ᵃ)", "∂out/∂a = out · (1 − out) · grad"),
  TanhBackward0: R("out = tanh a", "∂out/∂a = (1 − out²) · grad"),
  SoftplusBackward0: R("out = ln(1 + eᵃ)", "∂out/∂a = σ(a) · grad"),
  ClampBackward1: R("out = clamp(a, lo, hi)", "∂out/∂a = grad inside [lo, hi], else 0"),
  ClampMinBackward0: R("out = max(a, lo)", "∂out/∂a = grad where a ≥ lo, else 0"),
  ClampMaxBackward0: R("out = min(a, hi)", "∂out/∂a = grad where a ≤ hi, else 0"),
  MaximumBackward0: R("out = max(a, b)", "grad goes to the larger input (split on ties)"),
  MinimumBackward0: R("out = min(a, b)", "grad goes to the smaller input (split on ties)"),
  WhereBackward0: R("out = where(cond, a, b)", "∂out/∂a = grad where cond", "∂out/∂b = grad where not cond"),
  SumBackward0: R("out = Σ a", "∂out/∂a = grad broadcast to a's shape (every element gets grad)"),
  SumBackward1: R("out = Σ_dim a", "∂out/∂a = grad expanded back along the summed dims"),
  MeanBackward0: R("out = (1/N) Σ a", "∂out/∂a = grad / N for every element"),
  MeanBackward1: R("out = mean_dim a", "∂out/∂a = grad / N expanded along the reduced dims"),
  MaxBackward0: R("out = max a", "∂out/∂a = grad at the arg-max, 0 elsewhere"),
  MaxBackward1: R("out, idx = max(a, dim)", "∂out/∂a = grad scattered to the arg-max positions"),
  MinBackward0: R("out = min a", "∂out/∂a = grad at the arg-min, 0 elsewhere"),
  MinBackward1: R("out, idx = min(a, dim)", "∂out/∂a = grad scattered to the arg-min positions"),
  ProdBackward0: R("out = Π a", "∂out/∂aᵢ = grad · Π_{j≠i} aⱼ"),
  NormBackward0: R("out = ‖a‖", "∂out/∂a = a / ‖a‖ · grad"),
  MmBackward0: R("out = A @ B", "∂out/∂A = grad @ Bᵀ", "∂out/∂B = Aᵀ @ grad"),
  MvBackward0: R("out = A @ v", "∂out/∂A = grad ⊗ v", "∂out/∂v = Aᵀ @ grad"),
  DotBackward0: R("out = a · b (dot)", "∂out/∂a = grad · b", "∂out/∂b = grad · a"),
  BmmBackward0: R("out = A @ B (batched)", "∂out/∂A = grad @ Bᵀ", "∂out/∂B = Aᵀ @ grad"),
  MatmulBackward0: R("out = a @ b", "∂out/∂a = grad @ bᵀ", "∂out/∂b = aᵀ @ grad (batch dims summed)"),
  AddmmBackward0: R(
    "out = bias + X @ W  (nn.Linear: X @ weightᵀ)",
    "∂out/∂bias = grad summed over the batch",
    "∂out/∂X = grad @ Wᵀ",
    "∂out/∂W = Xᵀ @ grad",
  ),
  LinearBackward0: R("out = X @ Wᵀ + b", "∂out/∂X = grad @ W", "∂out/∂W = gradᵀ @ X", "∂out/∂b = grad summed over the batch"),
  ViewBackward0: R("out = a.view(shape)", "∂out/∂a = grad reshaped back to a's shape"),
  ReshapeAliasBackward0: R("out = a.reshape(shape)", "∂out/∂a = grad reshaped back to a's shape"),
  UnsafeViewBackward0: R("out = a.reshape(shape)", "∂out/∂a = grad reshaped back to a's shape"),
  TBackward0: R("out = aᵀ", "∂out/∂a = gradᵀ"),
  TransposeBackward0: R("out = a.transpose(i, j)", "∂out/∂a = grad.transpose(i, j)"),
  PermuteBackward0: R("out = a.permute(dims)", "∂out/∂a = grad permuted back (inverse permutation)"),
  ExpandBackward0: R("out = a.expand(shape)", "∂out/∂a = grad summed over the expanded dims"),
  SqueezeBackward0: R("out = a.squeeze()", "∂out/∂a = grad unsqueezed back"),
  SqueezeBackward1: R("out = a.squeeze(dim)", "∂out/∂a = grad unsqueezed back"),
  SqueezeBackward2: R("out = a.squeeze(dims)", "∂out/∂a = grad unsqueezed back"),
  SqueezeBackward4: R("out = a.squeeze(dims)", "∂out/∂a = grad unsqueezed back"),
  CumsumBackward0: R("out = cumsum(a, dim)", "∂out/∂a = reversed cumulative sum of grad along dim"),
  FloorBackward0: R("out = ⌊a⌋", "∂out/∂a = 0 (piecewise constant)"),
  CeilBackward0: R("out = ⌈a⌉", "∂out/∂a = 0 (piecewise constant)"),
  RoundBackward0: R("out = round(a)", "∂out/∂a = 0 (piecewise constant)"),
  SignBackward0: R("out = sign(a)", "∂out/∂a = 0 (piecewise constant)"),
  UnsqueezeBackward0: R("out = a.unsqueeze(dim)", "∂out/∂a = grad squeezed back"),
  CloneBackward0: R("out = a.clone()", "∂out/∂a = grad"),
  ToCopyBackward0: R("out = a.to(dtype/device)", "∂out/∂a = grad converted back"),
  SelectBackward0: R("out = a[i]", "∂out/∂a = grad placed at index i, 0 elsewhere"),
  SliceBackward0: R("out = a[start:stop:step]", "∂out/∂a = grad placed in the slice, 0 elsewhere"),
  IndexBackward0: R("out = a[idx]", "∂out/∂a = grad scattered (added) back to the indexed positions"),
  CatBackward0: R("out = cat([a, b, …], dim)", "each input gets its slice of grad"),
  StackBackward0: R("out = stack([a, b, …], dim)", "each input gets its slice of grad"),
  SplitBackward0: R("a₁, a₂, … = split(a)", "∂/∂a = the pieces' grads concatenated"),
  UnbindBackward0: R("a₁, a₂, … = unbind(a)", "∂/∂a = the pieces' grads stacked"),
  SoftmaxBackward0: R("out = softmax(a)", "∂out/∂a = out · (grad − Σ(grad · out))"),
  LogSoftmaxBackward0: R("out = log softmax(a) = a − log Σ eᵃ", "∂out/∂a = grad − softmax(a) · Σ grad"),
  NllLossBackward0: R("loss = −mean(input[i, target_i])", "∂loss/∂input = −1/N at each target position, 0 elsewhere (× grad)"),
  MseLossBackward0: R("loss = mean((a − t)²)", "∂loss/∂a = 2 (a − t) / N · grad"),
  BinaryCrossEntropyBackward0: R("loss = −mean(t ln p + (1 − t) ln(1 − p))", "∂loss/∂p = (p − t) / (p (1 − p)) / N · grad"),
  BinaryCrossEntropyWithLogitsBackward0: R("loss = BCE(σ(a), t)", "∂loss/∂a = (σ(a) − t) / N · grad"),
  ConvolutionBackward0: R(
    "out = conv(x, W) + b",
    "∂out/∂x = transposed convolution of grad with W",
    "∂out/∂W = correlation of x with grad",
    "∂out/∂b = grad summed over batch and positions",
  ),
  MaxPool2DWithIndicesBackward0: R("out = max over each window", "∂out/∂x = grad routed to the arg-max of each window, 0 elsewhere"),
  AvgPool2DBackward0: R("out = mean over each window", "∂out/∂x = grad / window size spread over each window"),
  AdaptiveAvgPool2DBackward0: R("out = adaptive mean pooling", "∂out/∂x = grad spread evenly over each pooling region"),
  NativeBatchNormBackward0: R(
    "out = γ (x − μ) / √(σ² + ε) + β",
    "∂out/∂x = (γ / σ̂)(grad − mean(grad) − x̂ · mean(grad · x̂))",
    "∂out/∂γ = Σ grad · x̂",
    "∂out/∂β = Σ grad",
  ),
  NativeLayerNormBackward0: R(
    "out = γ (x − μ) / √(σ² + ε) + β  (per row)",
    "∂out/∂x = (γ / σ̂)(grad − mean(grad) − x̂ · mean(grad · x̂))",
    "∂out/∂γ = Σ grad · x̂",
    "∂out/∂β = Σ grad",
  ),
  EmbeddingBackward0: R("out = W[idx]", "∂out/∂W = grad rows added into the looked-up rows"),
  NativeDropoutBackward0: R("out = a · mask / (1 − p)", "∂out/∂a = grad · mask / (1 − p)"),
  DropoutBackward0: R("out = a · mask / (1 − p)", "∂out/∂a = grad · mask / (1 − p)"),
  CopySlices: R("in-place write into a view", "grad of the base with the written region taken from the op's input grads"),
  AccumulateGrad: R("leaf tensor (requires_grad)", "leaf.grad += grad"),
};

/** The rule of an op; unknown ops get a generic description (custom Functions, new ops). */
export function ruleFor(op: string, inputs = 1): Rule {
  const r = RULES[op];
  if (r) return r;
  const base = op.replace(/Backward\d*$/, "");
  const lines: string[] = [];
  const n = Math.max(1, inputs);
  for (let i = 0; i < n; i++) lines.push(`∂out/∂input${n > 1 ? i : ""} = (∂${base || op}/∂input${n > 1 ? i : ""})ᵀ · grad  (vector–Jacobian product)`);
  return { forward: `out = ${base || op}(…)`, lines };
}

/** Whether a rule is in the table (not the generic fallback). */
export function hasRule(op: string): boolean {
  return Object.prototype.hasOwnProperty.call(RULES, op);
}
