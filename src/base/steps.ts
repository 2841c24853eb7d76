/**
 * Named steps with progress: long operations (image build, VM create) are a list of
 * steps; each reports when it starts so the CLI can show where the time goes.
 */
export interface ProgressEvent {
  /** Short machine-readable step id, e.g. "download", "mkfs". */
  step: string;
  /** Human-readable line. */
  message: string;
  /** Optional fraction 0..1 for a progress bar. */
  fraction?: number;
}

export type ProgressSink = (event: ProgressEvent) => void;

export const noProgress: ProgressSink = () => {
  /* nobody listens */
};
