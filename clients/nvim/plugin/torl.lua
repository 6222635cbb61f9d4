if vim.g.loaded_torl then return end
vim.g.loaded_torl = true
vim.api.nvim_create_user_command("TorlSolve", function(opts) require("torl").solve_command(opts) end,
  { range = true, desc = "Stream a worked solution of the selection or paragraph into a scratch buffer" })
