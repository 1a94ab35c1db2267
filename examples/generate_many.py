#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Generates several clips at once with klingo1src, from Python (PyGObject).

    examples/generate_many.py [--image IMG]... [--out-dir DIR] [--jobs N]
                              [--duration 5|10] [--aspect-ratio R]
                              [--poll-interval S] PROMPT...

One clip per PROMPT, all from the same image(s) (1 = first frame, 2 = first
and last frame), written as DIR/clip-1.mp4, DIR/clip-2.mp4, ... Up to N
pipelines (`klingo1src ! queue ! filesink`) run at once in this process,
one GLib main loop watching their buses. Progress comes from the element's
messages; a failed clip prints the error and the fields of the error's
`klingo1-error` details structure, and the others go on.

The key comes from KLINGO1_API_KEY (API and Files API URLs from
KLINGO1_API_URL and KLINGO1_FILES_URL when they are set). Ctrl-C stops all
pipelines; running the same command again resumes the tasks that were
running and takes finished clips from the cache: nothing is paid twice.

Needs PyGObject and GStreamer's introspection data (Debian: python3-gi,
gir1.2-gstreamer-1.0), hence /usr/bin/python3, the Python they belong to.
Exit status: 0 when every clip was written, 1 when one failed, 130 on Ctrl-C.
"""

import argparse
import os
import signal
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


def quote(value):
    """One entry of a GstValueArray as gst_util_set_object_arg() reads it."""
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


class Clip:
    def __init__(self, app, number, prompt, output):
        self.app = app
        self.name = "clip-%d" % number
        self.prompt = prompt
        self.output = output
        self.part = output + ".part"
        self.pipeline = None
        self.started = 0.0
        self.task_id = None
        self.last_status = None
        self.last_step = -1
        self.state = "waiting"  # running, done, failed, stopped

    def say(self, text):
        prefix = "[%s] " % self.name
        print(prefix + text.replace("\n", "\n" + " " * len(prefix)),
              flush=True)

    def start(self):
        args = self.app.args
        src = Gst.ElementFactory.make("klingo1src", None)
        if src is None:
            sys.exit("klingo1src not found: install the plugin or set "
                     "GST_PLUGIN_PATH to the build's gst/klingo1")
        src.set_property("prompt", self.prompt)
        Gst.util_set_object_arg(src, "images", "<%s>" % ",".join(
            quote(i) for i in args.image))
        src.set_property("duration", args.duration)
        if args.aspect_ratio:
            Gst.util_set_object_arg(src, "aspect-ratio", args.aspect_ratio)
        if args.poll_interval is not None:
            src.set_property("poll-interval", args.poll_interval)

        queue = Gst.ElementFactory.make("queue", None)
        sink = Gst.ElementFactory.make("filesink", None)
        sink.set_property("location", self.part)

        self.pipeline = Gst.Pipeline.new(self.name)
        for element in (src, queue, sink):
            self.pipeline.add(element)
        src.link(queue)
        queue.link(sink)

        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self.on_message)
        self.started = time.monotonic()
        self.state = "running"
        self.say("started: %s" % self.prompt)
        self.pipeline.set_state(Gst.State.PLAYING)

    def finish(self, state):
        self.state = state
        bus = self.pipeline.get_bus()
        bus.remove_signal_watch()
        self.pipeline.set_state(Gst.State.NULL)
        if state == "done":
            os.replace(self.part, self.output)
        elif os.path.exists(self.part):
            os.unlink(self.part)
        self.app.clip_finished(self)

    def on_message(self, bus, msg):
        if self.state != "running":
            return
        t = msg.type
        if t == Gst.MessageType.PROGRESS:
            ptype, code, text = msg.parse_progress()
            # The steps: uploads, submit, resume, complete. Polls are shown
            # from the klingo1/task messages below, errors from the error.
            if ptype in (Gst.ProgressType.START, Gst.ProgressType.CONTINUE,
                         Gst.ProgressType.COMPLETE) and code != "poll":
                self.say(text)
        elif t == Gst.MessageType.ELEMENT and msg.has_name("klingo1/task"):
            s = msg.get_structure()
            status = s.get_string("status")
            progress = s.get_int("progress")[1]
            eta = s.get_int("estimated-time")[1]
            self.task_id = s.get_string("task-id")
            # one line per status change or 25 % of progress
            step = progress // 25
            if status != self.last_status or step != self.last_step:
                left = ", about %d s left" % eta if eta >= 0 else ""
                self.say("%s %d%%%s" % (status, progress, left))
                self.last_status, self.last_step = status, step
        elif t == Gst.MessageType.TAG:
            tags = msg.parse_tag()
            found, task = tags.get_string("klingo1-task-id")
            if found:
                self.task_id = task
        elif t == Gst.MessageType.WARNING:
            err, _ = msg.parse_warning()
            self.say("warning: %s" % err.message)
        elif t == Gst.MessageType.ERROR:
            err, _ = msg.parse_error()
            self.say("error: %s" % err.message)
            details = msg.parse_error_details()
            if details is not None and details.get_name() == "klingo1-error":
                for i in range(details.n_fields()):
                    field = details.nth_field_name(i)
                    self.say("  %s: %s" % (field, details.get_value(field)))
            self.finish("failed")
        elif t == Gst.MessageType.EOS:
            self.say("wrote %s (task %s, %.1f s)" % (
                self.output, self.task_id or "?",
                time.monotonic() - self.started))
            self.finish("done")


class App:
    def __init__(self, args):
        self.args = args
        self.loop = GLib.MainLoop()
        self.clips = [Clip(self, n, p, os.path.join(args.out_dir,
                                                      "clip-%d.mp4" % n))
                      for n, p in enumerate(args.prompts, 1)]
        self.pending = list(self.clips)
        self.interrupted = False

    def start_more(self):
        running = sum(1 for c in self.clips if c.state == "running")
        while self.pending and running < self.args.jobs:
            self.pending.pop(0).start()
            running += 1
        if running == 0:
            self.loop.quit()

    def clip_finished(self, clip):
        if not self.interrupted:
            # from a bus handler: start the next one from the main loop
            GLib.idle_add(self.idle_start_more)

    def idle_start_more(self):
        self.start_more()
        return GLib.SOURCE_REMOVE

    def on_interrupt(self):
        self.interrupted = True
        self.pending = []
        for clip in self.clips:
            if clip.state == "running":
                clip.say("stopped; the task goes on at the API, and running "
                         "the same command again resumes it")
                clip.finish("stopped")
        self.loop.quit()
        return GLib.SOURCE_REMOVE

    def run(self):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT,
                             self.on_interrupt)
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM,
                             self.on_interrupt)
        self.start_more()
        if any(c.state == "running" for c in self.clips):
            self.loop.run()
        done = [c for c in self.clips if c.state == "done"]
        failed = [c for c in self.clips if c.state == "failed"]
        print("%d of %d clips written, %d failed" % (
            len(done), len(self.clips), len(failed)), flush=True)
        if self.interrupted:
            return 130
        return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(
        description="Generate several clips at once with klingo1src.")
    ap.add_argument("prompts", nargs="+", metavar="PROMPT",
                    help="one clip per prompt")
    ap.add_argument("--image", action="append", required=True,
                    help="first frame, then (optionally) last frame: "
                    "a path, file:// URI or http(s) URL")
    ap.add_argument("--out-dir", default=".",
                    help="where clip-N.mp4 are written (default: .)")
    ap.add_argument("--jobs", type=int, default=4,
                    help="pipelines running at once (default: 4)")
    ap.add_argument("--duration", type=int, default=5, choices=(5, 10))
    ap.add_argument("--aspect-ratio", choices=("16:9", "9:16", "1:1"))
    ap.add_argument("--poll-interval", type=float,
                    help="seconds between status reads (default: the "
                    "element's, which follows the task's estimate)")
    args = ap.parse_args()
    if args.jobs < 1:
        ap.error("--jobs must be at least 1")
    if not os.path.isdir(args.out_dir):
        ap.error("--out-dir %s is not a directory" % args.out_dir)

    Gst.init(None)
    return App(args).run()


if __name__ == "__main__":
    sys.exit(main())
