/**
 * Polls `load` every `intervalMs` while mounted (the business API has no push to browsers; a real inbox
 * would take the relay's webhooks on its server and push them on). `refresh()` loads at once.
 */
import { useCallback, useEffect, useRef, useState } from "react";

export function usePolling<T>(
  load: (() => Promise<T>) | null,
  intervalMs: number,
): { data: T | undefined; error: string | null; refresh: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const kick = useRef<() => void>(() => {});

  useEffect(() => {
    setData(undefined);
    if (load === null) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let loading = false;
    let again = false;
    const tick = async (): Promise<void> => {
      // One load at a time: a refresh during a load runs right after it.
      if (loading) {
        again = true;
        return;
      }
      loading = true;
      clearTimeout(timer);
      try {
        const value = await load();
        if (!stopped) {
          setData(value);
          setError(null);
        }
      } catch (failure) {
        if (!stopped) setError(failure instanceof Error ? failure.message : String(failure));
      }
      loading = false;
      if (stopped) return;
      if (again) {
        again = false;
        return tick();
      }
      timer = setTimeout(() => void tick(), intervalMs);
    };
    kick.current = () => void tick();
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [load, intervalMs]);

  const refresh = useCallback(() => kick.current(), []);
  return { data, error, refresh };
}
