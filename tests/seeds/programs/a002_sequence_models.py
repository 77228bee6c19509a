# Seed article 002, section 11: RNN, LSTM and Transformer, exactly as the article calls them.
import torch
import torch.nn as nn

torch.manual_seed(0)

rnn = nn.RNN(input_size=10, hidden_size=20, num_layers=2)
input = torch.randn(5, 3, 10)  # 序列长度为5,batch size 为 3,输入维度为 10
h0 = torch.randn(2, 3, 20)  # 初始隐藏状态
output, hn = rnn(input, h0)
print(rnn)
print(output.shape, hn.shape)
print([(name, tuple(p.shape)) for name, p in rnn.named_parameters()])

lstm = nn.LSTM(input_size=10, hidden_size=20, num_layers=2)
input = torch.randn(5, 3, 10)
h0 = torch.randn(2, 3, 20)
c0 = torch.randn(2, 3, 20)
output, (hn, cn) = lstm(input, (h0, c0))
print(lstm)
print(output.shape, hn.shape, cn.shape)

transformer = nn.Transformer(d_model=512, nhead=8)
src = torch.rand((10, 32, 512))  # 序列长度为 10,batch size 为 32,特征维度为 512
tgt = torch.rand((20, 32, 512))  # 目标序列
out = transformer(src, tgt)
print(out.shape)
print(sum(p.numel() for p in transformer.parameters()))
print(transformer.encoder.layers[0])
