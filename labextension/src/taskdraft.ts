/**
 * "New task from a sentence" in the sidebar's Tasks section: the sentence is read
 * by the service (dates by rules, relative to the browser's today; the model
 * proposes the title), shown as an editable card, and written only on "Add".
 */
import { errorText, INode, ITaskDraft, NodeSpaceApi } from './api';
import { button, h } from './dom';

export class TaskFromSentence {
  constructor(
    private readonly api: NodeSpaceApi,
    private readonly onAdded: (task: INode) => void
  ) {
    this.input.type = 'text';
    this.input.className = 'ns-input ns-task-sentence';
    this.input.placeholder = 'New task from a sentence…';
    this.input.title = 'e.g. “email Ana about the draft next Friday, high priority #work”';
    this.input.setAttribute('aria-label', 'Describe a task in a sentence');
    this.input.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        void this.read();
      }
    });
    this.card.className = 'ns-task-draft';
    this.card.hidden = true;
    this.node.append(this.input, this.card, this.message);
  }

  readonly node = h('div', { className: 'ns-task-from-sentence' });

  private async read(): Promise<void> {
    const sentence = this.input.value.trim();
    if (!sentence) {
      return;
    }
    this.message.textContent = 'Reading…';
    try {
      this.show(await this.api.draftTask(sentence));
      this.message.textContent = '';
    } catch (error) {
      this.message.textContent = errorText(error);
    }
  }

  private show(draft: ITaskDraft): void {
    const title = h('input', { className: 'ns-input ns-draft-title', attrs: { 'aria-label': 'Task title' } });
    title.value = draft.title;
    const due = h('input', { className: 'ns-input ns-draft-due', attrs: { type: 'date', 'aria-label': 'Due date' } });
    due.value = draft.due ?? '';
    const priority = h('select', { className: 'ns-draft-priority', attrs: { 'aria-label': 'Priority' } });
    for (const value of ['', '1', '2', '3', '4']) {
      const option = h('option', { text: value ? `P${value}` : 'No priority' });
      option.value = value;
      priority.appendChild(option);
    }
    priority.value = draft.priority ? String(draft.priority) : '';
    const from = (field: string) => draft.sources[field] ?? '';
    const row = (label: string, control: HTMLElement, field: string) =>
      h('label', { className: 'ns-draft-row' }, h('span', { text: label }), control,
        h('span', { className: 'ns-muted ns-draft-from', text: from(field) }));  // prettier-ignore
    const extras = [
      draft.tags.length ? `Tags: ${draft.tags.map(t => `#${t}`).join(' ')}` : '',
      draft.links.length ? `Links: ${draft.links.map(([, t]) => t).join(', ')}` : ''
    ].filter(Boolean);
    const add = button('Add task', 'ns-draft-add', 'Add this task', () =>
      void this.add(draft, title.value, due.value, priority.value)
    );
    const cancel = button('Cancel', 'ns-draft-cancel', 'Drop this draft', () => this.close());
    this.card.replaceChildren(
      row('Title', title, 'title'),
      row('Due', due, 'due'),
      row('Priority', priority, 'priority'),
      ...extras.map(text => h('div', { className: 'ns-muted', text })),
      h('div', { className: 'ns-draft-actions' }, add, cancel)
    );
    this.card.hidden = false;
    title.focus();
  }

  private async add(draft: ITaskDraft, title: string, due: string, priority: string): Promise<void> {
    const content = draft.links.length
      ? 'Mentions: ' + draft.links.map(([id, t]) => `[[${id}|${t.replace(/[[\]|]/g, ' ')}]]`).join(', ')
      : '';
    try {
      const answer = await this.api.call<INode>('create', ['task', title.trim()], {
        content,
        due: due || null,
        priority: priority ? Number(priority) : null,
        tags: draft.tags
      });
      this.close();
      this.message.textContent = `Added “${answer.result.title}”.`;
      this.onAdded(answer.result);
    } catch (error) {
      this.message.textContent = errorText(error);
    }
  }

  private close(): void {
    this.card.hidden = true;
    this.card.replaceChildren();
    this.input.value = '';
  }

  private readonly input = h('input');
  private readonly card = h('div');
  private readonly message = h('div', { className: 'ns-muted ns-draft-message', attrs: { 'aria-live': 'polite' } });
}
