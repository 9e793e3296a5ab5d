/** An in-page modal dialog (the native `<dialog>` element, opened modally): focus stays inside, Escape cancels. */
import { type ReactNode, useEffect, useRef } from "react";

export interface DialogAction {
  label: string;
  testId: string;
  danger?: boolean;
  onClick: () => void;
}

export function Dialog(props: {
  title: string;
  testId: string;
  children: ReactNode;
  actions: DialogAction[];
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog !== null && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      className="dialog"
      data-testid={props.testId}
      aria-labelledby={`${props.testId}-title`}
      onCancel={(event) => {
        event.preventDefault();
        props.onCancel();
      }}
    >
      <h2 id={`${props.testId}-title`}>{props.title}</h2>
      <p>{props.children}</p>
      <div className="dialog-actions">
        {props.actions.map((action) => (
          <button
            key={action.testId}
            type="button"
            data-testid={action.testId}
            className={action.danger ? "danger" : "secondary"}
            onClick={action.onClick}
          >
            {action.label}
          </button>
        ))}
      </div>
    </dialog>
  );
}
