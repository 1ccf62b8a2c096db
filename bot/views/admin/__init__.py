"""Block Kit for admins: the setup, priorities and questions modals, and the replies.

Block ids are the domain's field names, so a problem the domain finds is shown inline next to
the input it is about (`response_action: errors`).
"""
