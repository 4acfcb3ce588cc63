"""Team seats: the people of a business besides its owner (operators and managers), their invitations,
who may do what (roles.py) and who holds which dialog (assignment.py). No Reflex here.

A business is identified by its owner's user id: every owned row (assistants, bots, dialogs, the billing
account) already carries it as `owner_id`, so a seat is a (business, person, role) row and nothing else moves.
"""
