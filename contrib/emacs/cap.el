;;; cap.el --- Talk to warm coding-agent sessions through cap  -*- lexical-binding: t; -*-

;; Commands built on `cap --format json':
;;   M-x cap-prompt   prompt the session of the current directory's key; the reply streams
;;                    into the *cap* buffer
;;   M-x cap-attach   follow a session's turns live (`cap attach ID')
;;   M-x cap-cancel   cancel the running turn of the last prompt
;; A permission question (a `permission' event with decision "ask") is asked in the
;; minibuffer and answered with `cap decide'.
;;
;; Install: (add-to-list 'load-path "/path/to/contrib/emacs") (require 'cap)
;; Set `cap-args' to '("--host" "build") to talk to another machine's capd.
;; Needs Emacs 27 or later (native JSON).

;;; Code:

(defgroup cap nil "Warm coding-agent sessions." :group 'tools)

(defcustom cap-program "cap" "The cap executable." :type 'string)

(defcustom cap-args nil
  "Arguments put before every cap command, e.g. (\"--host\" \"build\")."
  :type '(repeat string))

(defvar cap--last-session nil "The session id of the last prompt.")

(defun cap--command (&rest args)
  (append (list cap-program) cap-args args))

(defun cap--insert (buffer text)
  (when (buffer-live-p buffer)
    (with-current-buffer buffer
      (let ((inhibit-read-only t)
            (moving (= (point) (point-max))))
        (save-excursion
          (goto-char (point-max))
          (insert text))
        (when moving (goto-char (point-max)))))))

(defun cap--note (buffer text)
  (cap--insert buffer
               (with-current-buffer buffer
                 (concat (if (or (= (point-max) (point-min))
                                 (eq (char-before (point-max)) ?\n))
                             "" "\n")
                         text "\n"))))

(defun cap--ask (event)
  (let* ((what (concat (gethash "tool" event)
                       (let ((s (gethash "subject" event)))
                         (if (stringp s) (concat " " s) ""))))
         (allow (y-or-n-p (format "cap: allow %s? " what))))
    (apply #'call-process cap-program nil 0 nil
           (append cap-args
                   (list "decide" (gethash "id" event) (if allow "allow" "deny"))))))

(defun cap--event (buffer event)
  (let ((type (gethash "type" event)))
    (cond
     ((equal type "session")
      (setq cap--last-session (gethash "id" event))
      (cap--note buffer (format "-- %s session %s, key %s"
                                (gethash "agent" event) (gethash "id" event)
                                (gethash "key" event))))
     ((equal type "text") (cap--insert buffer (gethash "delta" event)))
     ((equal type "tool_call")
      (cap--note buffer (format "> %s (%s)" (gethash "name" event) (gethash "status" event))))
     ((equal type "status")
      (cap--note buffer (format "> %s: %s" (gethash "kind" event) (gethash "message" event))))
     ((equal type "permission")
      (if (equal (gethash "decision" event) "ask")
          (cap--ask event)
        (cap--note buffer (format "> %s: %s" (gethash "tool" event)
                                  (gethash "decision" event)))))
     ((equal type "result")
      (cap--note buffer (format "-- %s" (gethash "stop_reason" event))))
     ((equal type "error")
      (cap--note buffer (concat "cap: " (gethash "message" event)))))))

(defun cap--filter (process output)
  (let ((pending (concat (or (process-get process 'pending) "") output))
        (buffer (process-buffer process)))
    (while (string-match "\n" pending)
      (let ((line (substring pending 0 (match-beginning 0))))
        (setq pending (substring pending (match-end 0)))
        (unless (string= line "")
          (let ((event (ignore-errors (json-parse-string line :null-object nil))))
            (when (hash-table-p event) (cap--event buffer event))))))
    (process-put process 'pending pending)))

(defun cap--start (name args)
  (let ((buffer (get-buffer-create "*cap*")))
    (with-current-buffer buffer
      (special-mode)
      (let ((inhibit-read-only t)) (erase-buffer)))
    (display-buffer buffer)
    (make-process :name name
                  :buffer buffer
                  :command (apply #'cap--command args)
                  :connection-type 'pipe
                  :stderr (get-buffer-create "*cap stderr*")
                  :filter #'cap--filter
                  :sentinel (lambda (process _event)
                              (unless (process-live-p process)
                                (cap--note (process-buffer process)
                                           (format "-- cap exited with %d"
                                                   (process-exit-status process))))))))

;;;###autoload
(defun cap-prompt (text)
  "Send TEXT to the agent session of this directory's key."
  (interactive "sPrompt: ")
  (cap--start "cap" (list "--format" "json" "prompt" "-C"
                          (expand-file-name default-directory) "--" text)))

;;;###autoload
(defun cap-attach (id)
  "Follow the turns of session ID."
  (interactive "sSession id: ")
  (cap--start "cap-attach" (list "--format" "json" "attach" id)))

;;;###autoload
(defun cap-cancel ()
  "Cancel the running turn of the last prompt (or of this directory's key)."
  (interactive)
  (apply #'call-process cap-program nil 0 nil
         (append cap-args
                 (if cap--last-session
                     (list "cancel" cap--last-session)
                   (list "cancel" "-C" (expand-file-name default-directory))))))

(provide 'cap)
;;; cap.el ends here
