//! The emitter's output primitives and comment writing, as go-yaml's
//! (`put`, `put_break`, `yaml_emitter_write_indent`, `_write_indicator`,
//! `_write_comment` and the head, line and foot comment steps): they track
//! the column, whether the last character was whitespace or indentation,
//! and the blank line go-yaml leaves after a foot comment.

use crate::format::yaml::emit::Emitter;

impl Emitter<'_> {
    // --- Output primitives (`put`, `put_break`, `write_break`) ---

    pub(super) fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    pub(super) fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
        self.indention = true;
    }

    /// Copies a line break from a scalar or comment: LF is written as a
    /// line break, the other breaks as themselves.
    pub(super) fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
            self.indention = true;
        }
    }

    pub(super) fn write_indent(&mut self) {
        let indent = self.indent.max(0);
        let column = self.column as i32;
        if !self.indention || column > indent || (column == indent && !self.whitespace) {
            self.put_break();
        }
        // go-yaml separates a foot comment from what follows at its indent.
        if self.foot_indent == indent {
            self.put_break();
        }
        while (self.column as i32) < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.foot_indent = -1;
    }

    pub(super) fn write_indicator(
        &mut self,
        ind: &str,
        need_ws: bool,
        is_ws: bool,
        is_indention: bool,
    ) {
        if need_ws && !self.whitespace {
            self.put(' ');
        }
        for c in ind.chars() {
            self.put(c);
        }
        self.whitespace = is_ws;
        self.indention = self.indention && is_indention;
    }

    // --- Comments ---

    /// Writes comment lines joined by `\n`. NB: go-yaml also breaks the
    /// line at CR, NEL, U+2028 and U+2029, which never occur in the comments
    /// its parser reads; the YAML 1.2 reader here keeps them inside a
    /// comment, so they are written as part of it.
    pub(super) fn write_comment(&mut self, comment: &str) {
        let mut breaks = false;
        let mut pound = false;
        for c in comment.chars() {
            if c == '\n' {
                self.put_break();
                breaks = true;
                pound = false;
            } else {
                if breaks {
                    self.write_indent();
                }
                if !pound {
                    if c != '#' {
                        self.put('#');
                        self.put(' ');
                    }
                    pound = true;
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
        if !breaks {
            self.put_break();
        }
        self.whitespace = true;
    }

    pub(super) fn process_head_comment(&mut self) {
        if !self.tail.is_empty() {
            self.write_indent();
            let tail = std::mem::take(&mut self.tail);
            self.write_comment(tail);
            self.foot_indent = self.indent.max(0);
        }
        if self.head.is_empty() {
            return;
        }
        self.write_indent();
        let head = std::mem::take(&mut self.head);
        self.write_comment(head);
    }

    pub(super) fn process_line_comment(&mut self, linebreak: bool) {
        if self.line.is_empty() {
            if linebreak {
                self.put_break();
            }
            return;
        }
        if !self.whitespace {
            self.put(' ');
        }
        let line = std::mem::take(&mut self.line);
        self.write_comment(line);
    }

    pub(super) fn process_foot_comment(&mut self) {
        if self.foot.is_empty() {
            return;
        }
        self.write_indent();
        let foot = std::mem::take(&mut self.foot);
        self.write_comment(foot);
        self.foot_indent = self.indent.max(0);
    }
}
