/** The Tasks section: the open tasks (a box marks one done), and a task from a sentence. */
import { INode } from '../api';
import { displayTitle, h } from '../dom';
import { TaskFromSentence } from '../taskdraft';
import { IBusPart, parentKey, Pending } from './bus';
import { SidebarContext } from './context';
import { Section } from './section';

/** Mark `task` done or not as `box` says (the outline's task rows use it too). */
export async function setDone(
  ctx: SidebarContext,
  task: INode,
  box: HTMLInputElement
): Promise<void> {
  box.disabled = true;
  try {
    const answer = await ctx.api.call<INode>('update', [task.id], {
      task_status: box.checked ? 'done' : 'todo'
    });
    ctx.remember([answer.result]);
    ctx.clearMessage();
  } catch (error) {
    box.checked = !box.checked;
    ctx.report(error);
  } finally {
    box.disabled = false;
  }
  ctx.bus.pending.tasks = true;
  ctx.bus.pending.parents.add(parentKey(task.parent_id));
  ctx.bus.schedule();
}

export class TasksSection extends Section implements IBusPart {
  constructor(ctx: SidebarContext) {
    super(ctx, 'Tasks', 'ns-tasks-section');
    this.list.className = 'ns-list ns-task-list';
    const fromSentence = new TaskFromSentence(ctx.api, () => {
      ctx.bus.pending.tasks = true;
      ctx.bus.schedule();
    });
    this.node.append(this.list, fromSentence.node);
  }

  reload(pending: Pending): Promise<void>[] {
    return pending.all || pending.tasks ? [this.load()] : [];
  }

  reset(): void {
    this.token++;
  }

  private async load(): Promise<void> {
    const token = ++this.token;
    if (!this.ctx.settings.sections.tasks) {
      return;
    }
    const limit = this.ctx.settings.tasksLimit;
    const tasks = (await this.ctx.api.call<INode[]>('open_tasks', [], { limit })).result;
    if (token !== this.token) {
      return;
    }
    this.ctx.remember(tasks);
    this.list.replaceChildren();
    if (tasks.length === 0) {
      this.list.appendChild(h('li', { className: 'ns-empty', text: 'No open tasks.' }));
    }
    const today = this.ctx.today?.id ?? new Date().toISOString().slice(0, 10);
    for (const task of tasks) {
      this.list.appendChild(this.taskItem(task, today));
    }
  }

  private taskItem(task: INode, today: string): HTMLLIElement {
    const box = h('input', {
      className: 'ns-task-check',
      attrs: { type: 'checkbox', 'aria-label': `Done: ${displayTitle(task.title)}` }
    });
    box.addEventListener('change', () => void setDone(this.ctx, task, box));
    const title = h('span', {
      className: 'ns-task-title',
      text: displayTitle(task.title),
      attrs: { tabindex: '0', role: 'button' }
    });
    this.ctx.opensOnActivate(title, task.id);
    const item = h(
      'li',
      {
        className: `ns-task${task.task_status === 'doing' ? ' ns-doing' : ''}`,
        attrs: { 'data-id': task.id }
      },
      box,
      title
    );
    if (task.priority !== null && task.priority !== undefined) {
      item.appendChild(h('span', { className: 'ns-priority', text: `P${task.priority}` }));
    }
    if (task.due) {
      const overdue = task.due < today;
      item.appendChild(
        h('span', {
          className: `ns-due${overdue ? ' ns-overdue' : ''}`,
          text: task.due,
          title: overdue ? 'overdue' : 'due'
        })
      );
    }
    return item;
  }

  private readonly list = h('ul');
  private token = 0;
}
