-- What a message needs from the server it is relayed to, recorded at enqueue: 8-bit data
-- (sent with BODY=8BITMIME) and non-ASCII envelope addresses (sent with SMTPUTF8). NULL for
-- messages stored before this was recorded: the worker reads those from the bytes.
ALTER TABLE {{schema}}.messages ADD COLUMN eight_bit boolean, ADD COLUMN smtputf8 boolean;
