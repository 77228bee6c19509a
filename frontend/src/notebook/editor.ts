// The cell editor: CodeMirror 6 with Python (or Markdown) highlighting, bracket matching and
// closing, auto-indent, history, search, PyTorch completion; Shift+Enter / Ctrl+Enter run keys,
// Escape leaves the editor; line decorations for the failing line and the graph-linked line.

import { autocompletion, closeBrackets, closeBracketsKeymap, closeCompletion, completionKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { markdown } from "@codemirror/lang-markdown";
import { python } from "@codemirror/lang-python";
import { HighlightStyle, bracketMatching, indentOnInput, indentUnit, syntaxHighlighting } from "@codemirror/language";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { Compartment, EditorState, RangeSetBuilder, StateEffect, StateField, type Extension } from "@codemirror/state";
import {
  Decoration,
  type DecorationSet,
  EditorView,
  drawSelection,
  highlightActiveLine,
  highlightActiveLineGutter,
  keymap,
  lineNumbers,
  placeholder,
} from "@codemirror/view";
import { tags as t } from "@lezer/highlight";
import { pytorchCompletions } from "./completions";

const highlight = HighlightStyle.define([
  { tag: [t.keyword, t.controlKeyword, t.definitionKeyword, t.moduleKeyword, t.operatorKeyword], color: "var(--syn-keyword)" },
  { tag: [t.string, t.special(t.string), t.docString], color: "var(--syn-string)" },
  { tag: [t.number, t.integer, t.float], color: "var(--syn-number)" },
  { tag: [t.bool, t.null, t.atom], color: "var(--syn-constant)" },
  { tag: [t.comment, t.lineComment, t.blockComment], color: "var(--syn-comment)", fontStyle: "italic" },
  { tag: [t.function(t.variableName), t.function(t.propertyName)], color: "var(--syn-function)" },
  { tag: [t.definition(t.variableName), t.definition(t.className), t.className], color: "var(--syn-def)" },
  { tag: [t.standard(t.variableName), t.self], color: "var(--syn-builtin)" },
  { tag: [t.operator, t.punctuation], color: "var(--syn-operator)" },
  { tag: t.meta, color: "var(--syn-decorator)" },
  { tag: t.heading, fontWeight: "700", color: "var(--syn-def)" },
  { tag: t.emphasis, fontStyle: "italic" },
  { tag: t.strong, fontWeight: "700" },
  { tag: t.link, color: "var(--accent)", textDecoration: "underline" },
  { tag: t.monospace, color: "var(--syn-string)" },
]);

// ---- line marks ---------------------------------------------------------------------------------
const setErrorLine = StateEffect.define<number | null>();
const setLinkLine = StateEffect.define<number | null>();

function lineMark(effect: typeof setErrorLine, cls: string): StateField<DecorationSet> {
  const deco = Decoration.line({ class: cls });
  return StateField.define<DecorationSet>({
    create: () => Decoration.none,
    update(value, tr) {
      for (const e of tr.effects) {
        if (e.is(effect)) {
          const line = e.value;
          if (line === null || line < 1 || line > tr.state.doc.lines) return Decoration.none;
          const b = new RangeSetBuilder<Decoration>();
          const l = tr.state.doc.line(line);
          b.add(l.from, l.from, deco);
          return b.finish();
        }
      }
      return tr.docChanged ? value.map(tr.changes) : value;
    },
    provide: (f) => EditorView.decorations.from(f),
  });
}
const errorField = lineMark(setErrorLine, "cm-error-line");
const linkField = lineMark(setLinkLine, "cm-link-line");

export interface EditorOptions {
  doc: string;
  kind: "code" | "markdown";
  /** Source changed (debounced by the caller). */
  onChange(source: string): void;
  /** Shift+Enter (advance = true) or Ctrl/Cmd+Enter (advance = false). */
  onRun(advance: boolean): void;
  /** Escape: leave the editor. */
  onEscape(): void;
  onFocus?(): void;
  onBlur?(): void;
  /** Identifiers of the whole notebook, for completion. */
  words(): Iterable<string>;
  /** ArrowUp on the first line / ArrowDown on the last: go to the previous/next cell (true if it did). */
  onEdge?(direction: -1 | 1): boolean;
}

export interface CellEditor {
  readonly view: EditorView;
  source(): string;
  setSource(src: string): void;
  setKind(kind: "code" | "markdown"): void;
  markError(line: number | null): void;
  markLink(line: number | null): void;
  focus(where?: "start" | "end"): void;
  destroy(): void;
}

function languageFor(kind: "code" | "markdown"): Extension {
  return kind === "markdown" ? markdown() : python();
}

export function createEditor(parent: HTMLElement, opts: EditorOptions): CellEditor {
  const lang = new Compartment();
  let kind = opts.kind;
  const complete = pytorchCompletions(opts.words);
  const gutter = new Compartment();
  const runKeys = keymap.of([
    // running closes an open completion list (it would stay on screen over the next cell)
    { key: "Shift-Enter", run: (v) => (closeCompletion(v), opts.onRun(true), true) },
    { key: "Mod-Enter", run: (v) => (closeCompletion(v), opts.onRun(false), true) },
  ]);
  // Below completion and search in precedence: their Escape / arrows win while they are open.
  const navKeys = [
    { key: "Escape", run: () => (opts.onEscape(), true) },
    {
      key: "ArrowUp",
      run: (v: EditorView) => v.state.selection.main.empty && v.state.doc.lineAt(v.state.selection.main.head).number === 1 && !!opts.onEdge?.(-1),
    },
    {
      key: "ArrowDown",
      run: (v: EditorView) =>
        v.state.selection.main.empty && v.state.doc.lineAt(v.state.selection.main.head).number === v.state.doc.lines && !!opts.onEdge?.(1),
    },
  ];
  const state = EditorState.create({
    doc: opts.doc,
    extensions: [
      runKeys,
      gutter.of(opts.kind === "code" ? [lineNumbers(), highlightActiveLineGutter()] : []),
      history(),
      drawSelection(),
      indentOnInput(),
      indentUnit.of("    "),
      EditorState.tabSize.of(4),
      bracketMatching(),
      closeBrackets(),
      highlightActiveLine(),
      highlightSelectionMatches(),
      syntaxHighlighting(highlight),
      autocompletion({ override: [(ctx) => (kind === "code" ? complete(ctx) : null)], icons: false, activateOnTyping: true }),
      lang.of(languageFor(opts.kind)),
      placeholder(opts.kind === "code" ? "# Python — Shift+Enter to run" : "Markdown text — Shift+Enter to render"),
      keymap.of([...closeBracketsKeymap, ...completionKeymap, ...searchKeymap, ...navKeys, ...historyKeymap, indentWithTab, ...defaultKeymap]),
      EditorView.lineWrapping,
      errorField,
      linkField,
      EditorView.updateListener.of((u) => {
        if (u.docChanged) {
          // An edit invalidates the error mark of the old run.
          if (u.state.field(errorField).size && !u.transactions.some((tr) => tr.effects.some((e) => e.is(setErrorLine)))) {
            queueMicrotask(() => view.dispatch({ effects: setErrorLine.of(null) }));
          }
          opts.onChange(u.state.doc.toString());
        }
        if (u.focusChanged) {
          if (u.view.hasFocus) opts.onFocus?.();
          else opts.onBlur?.();
        }
      }),
      EditorView.contentAttributes.of({ "aria-label": opts.kind === "code" ? "Code cell" : "Markdown cell" }),
    ],
  });
  const view = new EditorView({ state, parent });

  return {
    view,
    source: () => view.state.doc.toString(),
    setSource(src: string) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: src } });
    },
    setKind(k) {
      kind = k;
      view.dispatch({
        effects: [lang.reconfigure(languageFor(k)), gutter.reconfigure(k === "code" ? [lineNumbers(), highlightActiveLineGutter()] : [])],
      });
    },
    markError: (line) => view.dispatch({ effects: setErrorLine.of(line) }),
    markLink(line) {
      view.dispatch({ effects: setLinkLine.of(line) });
    },
    focus(where) {
      view.focus();
      if (where) {
        const pos = where === "start" ? 0 : view.state.doc.length;
        view.dispatch({ selection: { anchor: pos } });
      }
    },
    destroy: () => view.destroy(),
  };
}
