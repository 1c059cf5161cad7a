/**
 * The sidebar's "Ask" section: a question goes to the local model, the answer
 * streams in, and its citations are buttons that open the cited notes. Answers
 * are shown as text (never as markup); a conversation continues in one chat node.
 */
import { errorText, IAskAnswer, ICitation, NodeSpaceApi } from './api';
import { button, displayTitle, h } from './dom';

const CITATION = /\[(\d{1,3})\]/g;

/** The answer's text with each kept `[n]` citation as a button. */
export function answerNodes(
  text: string,
  citations: ICitation[],
  open: (id: string) => void
): DocumentFragment {
  const byNumber = new Map(citations.map(c => [c.number, c]));
  const fragment = document.createDocumentFragment();
  let at = 0;
  for (const match of text.matchAll(CITATION)) {
    const cited = byNumber.get(Number(match[1]));
    if (!cited || match.index === undefined) {
      continue;
    }
    if (match.index > at) {
      fragment.appendChild(document.createTextNode(text.slice(at, match.index)));
    }
    fragment.appendChild(
      button(match[0], 'ns-cite', `Open “${displayTitle(cited.title)}”`, () => open(cited.id))
    );
    at = match.index + match[0].length;
  }
  fragment.appendChild(document.createTextNode(text.slice(at)));
  return fragment;
}

export class AskPanel {
  constructor(
    private readonly api: NodeSpaceApi,
    private readonly open: (id: string) => void
  ) {
    this.input.className = 'ns-input ns-ask-input';
    this.input.rows = 2;
    this.input.placeholder = 'Ask your notes… (Enter asks)';
    this.input.setAttribute('aria-label', 'Question for the local model');
    this.input.addEventListener('keydown', event => {
      if (event.key === 'Enter' && !event.shiftKey) {
        event.preventDefault();
        void this.ask();
      }
    });
    this.stop.hidden = true;
    this.node.append(
      this.log,
      this.input,
      h('div', { className: 'ns-ask-actions' }, this.send, this.stop, this.newChat),
      this.status
    );
  }

  readonly node = h('div', { className: 'ns-ask' });

  /** Forget the conversation (another knowledge base was chosen). */
  reset(): void {
    this.controller?.abort();
    this.conversation = null;
    this.log.replaceChildren();
    this.status.textContent = '';
  }

  private async ask(): Promise<void> {
    const question = this.input.value.trim();
    if (!question || this.controller) {
      return;
    }
    this.input.value = '';
    const turn = h('div', { className: 'ns-turn' });
    const answer = h('div', { className: 'ns-answer ns-pending', text: '…' });
    turn.append(h('div', { className: 'ns-question', text: question }), answer);
    this.log.appendChild(turn);
    const controller = new AbortController();
    this.setBusy(controller);
    let text = '';
    try {
      const result = await this.api.ask(
        { question, conversation: this.conversation },
        piece => {
          text += piece;
          answer.textContent = text;
        },
        controller.signal
      );
      this.conversation = result.chat_id;
      this.showAnswer(turn, answer, result);
    } catch (error) {
      const stopped = error instanceof DOMException && error.name === 'AbortError';
      answer.classList.add(stopped ? 'ns-muted' : 'ns-error');
      answer.textContent = stopped ? `${text} (stopped)` : errorText(error);
      this.status.textContent = '';
    } finally {
      answer.classList.remove('ns-pending');
      this.setBusy(null);
    }
  }

  private showAnswer(turn: HTMLElement, answer: HTMLElement, result: IAskAnswer): void {
    answer.replaceChildren(answerNodes(result.text || '(no answer)', result.citations, this.open));
    const cited = new Set(result.citations.map(c => c.id));
    if (result.sources.length) {
      const list = h('ol', { className: 'ns-sources-list' });
      for (const source of result.sources) {
        const item = h('li', { className: cited.has(source.id) ? 'ns-cited' : '' });
        item.value = source.number;
        item.append(
          button(displayTitle(source.title), 'ns-link', `Open “${source.title}”`, () =>
            this.open(source.id)
          ),
          h('span', { className: 'ns-muted', text: ` ${source.reason}` })
        );
        list.appendChild(item);
      }
      const summary = `Sources (${result.sources.length}, ${cited.size} cited)`;
      turn.appendChild(h('details', { className: 'ns-sources' }, h('summary', { text: summary }), list));
    }
    if (result.invalid_citations.length) {
      const removed = `Removed citations (not among the sources): ${result.invalid_citations.join(', ')}`;
      turn.appendChild(h('div', { className: 'ns-muted', text: removed }));
    }
    this.status.textContent = `${result.model} · ${result.seconds.toFixed(1)} s`;
  }

  private setBusy(controller: AbortController | null): void {
    this.controller = controller;
    this.send.disabled = controller !== null;
    this.stop.hidden = controller === null;
    if (controller) {
      this.status.textContent = 'Answering…';
    }
  }

  private readonly log = h('div', { className: 'ns-ask-log', attrs: { 'aria-live': 'polite' } });
  private readonly input = h('textarea');
  private readonly status = h('div', { className: 'ns-muted ns-ask-status' });
  private readonly send = button('Ask', 'ns-ask-button', 'Ask the local model', () => void this.ask());
  private readonly stop = button('Stop', 'ns-ask-stop', 'Stop the answer', () =>
    this.controller?.abort()
  );
  private readonly newChat = button('New chat', 'ns-ask-new', 'Start a new conversation', () =>
    this.reset()
  );
  private controller: AbortController | null = null;
  private conversation: string | null = null;
}
